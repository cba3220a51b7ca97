"""The streaming market data port: a feed of trades and minute bars (Alpaca, Finnhub).

A feed keeps one connection to its provider, subscribes to the symbols it is given and
hands what arrives to a `StreamConsumer`. Reconnecting (with backoff and jitter) and
resubscribing after a reconnect are the feed's job; what happens to a trade is the
consumer's (latest price, minute bars, alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade as the provider reported it. `at` is the trade's own time (aware, UTC),
    not when it arrived; `size` is in shares (fractional shares exist)."""

    symbol: str
    price: float
    size: float
    at: datetime


@dataclass(frozen=True, slots=True)
class MinuteBar:
    """A 1-minute bar starting at `start` (aware, UTC, on the minute). `vwap` is the
    volume-weighted average price; `trades` the number of trades in it. Either is None when
    unknown (a provider bar without them) or undefined (the VWAP of no volume)."""

    symbol: str
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int | None
    vwap: float | None


class StreamProblem(Exception):
    """A failure the provider reported (bad key, symbol limit, slow client...).

    `code` is the provider's own code or a short name ("auth", "symbol_limit"); `fatal` is
    True when reconnecting cannot help until the configuration changes (a rejected key).
    The message is for logs and never holds the key.
    """

    def __init__(self, message: str, *, code: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal


class StreamConsumer(Protocol):
    """What a feed hands its messages to, in arrival order."""

    async def on_connected(self, symbols: frozenset[str], *, reconnected: bool) -> None:
        """The feed is authenticated and subscribed to `symbols`; `reconnected` after a drop
        (the subscription was sent again)."""
        ...

    async def on_trades(self, trades: Sequence[Trade]) -> None: ...

    async def on_bar(self, bar: MinuteBar) -> None:
        """A bar the provider aggregated itself (used instead of our own for that minute)."""
        ...

    async def on_problem(self, problem: StreamProblem) -> None:
        """Reported for logs and metrics; the feed goes on (or stops when `fatal`)."""
        ...


class StreamFeed(Protocol):
    """One provider's live feed."""

    @property
    def name(self) -> str:
        """Short provider name for logs and metrics, e.g. "alpaca"."""
        ...

    @property
    def max_symbols(self) -> int | None:
        """How many symbols one connection may follow (None: no known limit)."""
        ...

    async def run(self, consumer: StreamConsumer) -> None:
        """Connect, authenticate, subscribe and deliver until cancelled, reconnecting after
        drops. Returns only after a fatal problem (reported to `consumer` first)."""
        ...

    async def follow(self, symbols: frozenset[str]) -> None:
        """Follow exactly `symbols` from now on, changing the live subscription without
        reconnecting. More than `max_symbols` raises StreamProblem(code="symbol_limit")."""
        ...
