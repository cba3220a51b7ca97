"""Which symbols are followed live: the configured ones, and any other while it has a live
subscriber somewhere (in any replica).

The worker polls (or a streaming provider streams) exactly `TrackedSymbols.current()`. A
subscription to a symbol outside the configured ones holds it through `watching`, which
refuses a new symbol once `max_live` other symbols are already watched: each one costs
provider calls (see app/quote_polling.py for how polling stays within the budget).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Protocol

from domain.errors import RateLimited

# Seconds a client refused for too many live symbols is told to wait: watchers come and go.
RETRY_AFTER_SECONDS = 60


class LiveSymbols(Protocol):
    """The symbols with live subscribers, counted per replica and seen by all of them (Redis,
    where a crashed replica's counts expire; or process memory on the embedded default)."""

    async def join(self, symbol: str, *, limit: int) -> bool:
        """Count one more subscriber of `symbol` in this replica. False, counting nothing,
        when `symbol` has no subscriber anywhere and `limit` symbols already do. Raises
        UpstreamUnavailable when the shared counts cannot be reached."""
        ...

    async def leave(self, symbol: str) -> None:
        """Count one subscriber of `symbol` less (one that joined). Never raises."""
        ...

    async def symbols(self) -> frozenset[str]:
        """Every symbol with a subscriber in some live replica. Never raises: while the
        shared counts cannot be reached, this replica's own."""
        ...


class TooManyLiveSymbols(RateLimited):
    """A subscription to one more symbol than the server follows live at once."""

    def __init__(self, symbol: str, max_live: int) -> None:
        super().__init__(
            f"{symbol} cannot be followed live now: besides its configured symbols the server "
            f"follows at most {max_live} symbol(s) live, and that many are being watched. Try "
            "again later.",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )
        self.symbol = symbol


class TrackedSymbols:
    """The configured symbols (always tracked, in their order) and the live ones.

    `configured` are normalized symbols (STOCKQL_SYMBOLS); `max_live` bounds how many other
    symbols may be watched at once (0: none)."""

    def __init__(self, *, configured: Iterable[str], live: LiveSymbols, max_live: int) -> None:
        if max_live < 0:
            raise ValueError(f"max_live must be at least 0, not {max_live}")
        self._configured = tuple(dict.fromkeys(configured))
        self._configured_set = frozenset(self._configured)
        self._live = live
        self._max_live = max_live

    @property
    def configured(self) -> tuple[str, ...]:
        return self._configured

    async def current(self) -> tuple[str, ...]:
        """Every tracked symbol: the configured ones, then the live others, alphabetically."""
        others = await self._live.symbols() - self._configured_set
        return (*self._configured, *sorted(others))

    @asynccontextmanager
    async def watching(self, symbol: str) -> AsyncIterator[None]:
        """Track the (normalized) `symbol` for as long as the block runs. Raises
        TooManyLiveSymbols for a symbol beyond the limit, UpstreamUnavailable when the
        shared counts cannot be reached; a configured symbol needs neither."""
        if symbol in self._configured_set:
            yield
            return
        if not await self._live.join(symbol, limit=self._max_live):
            raise TooManyLiveSymbols(symbol, self._max_live)
        try:
            yield
        finally:
            await self._live.leave(symbol)
