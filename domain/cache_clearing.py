"""Clearing the cache of a symbol (the admin's clearCache): its keys go, and its stored history
is marked due for a refresh, so that the next read asks the provider (within its call budget)
instead of serving the stored bars as fresh. Clearing is what an operator does to see new
data now."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from domain.bar_store import BarStore
from domain.cache import Cache
from domain.errors import UpstreamUnavailable
from domain.quotes import QuoteService
from domain.symbols import normalize_symbol


@dataclass(frozen=True, slots=True)
class ClearedCache:
    """The symbols cleared and how many cache keys they had."""

    symbols: list[str]
    keys_removed: int


class CacheClearing:
    def __init__(
        self,
        *,
        cache: Cache,
        store: BarStore,
        quotes: QuoteService,
        tracked: Iterable[str],
        also_clear: Callable[[str | None], Awaitable[None]] | None = None,
    ) -> None:
        """`quotes` tells whether the provider knows a symbol that is neither stored nor
        tracked; `tracked` are the symbols followed in real time; `also_clear` drops what
        else was computed from the symbol's data (whole cached responses)."""
        self._cache = cache
        self._store = store
        self._quotes = quotes
        self._tracked = frozenset(tracked)
        self._also_clear = also_clear

    async def clear(self, symbol: str | None) -> ClearedCache:
        """Clear `symbol` (every symbol when None). Raises InvalidInput for a malformed
        symbol and NotFound, as history does, for one that is not stored, not tracked and
        unknown to the provider: answering success with 0 keys would hide a typo."""
        if symbol is None:
            await self._store.request_refresh(None)
            removed = await self._cache.clear_symbol(None)
            await self._clear_derived(None)
            return ClearedCache(sorted(removed), sum(removed.values()))
        symbol = normalize_symbol(symbol)
        stored = await self._store.request_refresh(symbol)
        keys = sum((await self._cache.clear_symbol(symbol)).values())
        if not (stored or keys or symbol in self._tracked):
            await self._check_known(symbol)
        await self._clear_derived(symbol)
        return ClearedCache([symbol], keys)

    async def _clear_derived(self, symbol: str | None) -> None:
        if self._also_clear is not None:
            await self._also_clear(symbol)

    async def _check_known(self, symbol: str) -> None:
        """Raises the very NotFound history raises for a symbol the provider does not know
        (and remembers it, as history does). When the provider cannot tell now, a
        well-formed symbol passes."""
        with contextlib.suppress(UpstreamUnavailable):
            await self._quotes.latest(symbol)
            # The quote the check cached was not there before the clear: it goes too.
            await self._cache.clear_symbol(symbol)
