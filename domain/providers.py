"""The market data provider port and the failures a provider reports."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.market import Bar, Interval, Quote, SymbolMatch


class ProviderError(Exception):
    """Base of provider failures. The message is for logs, not for clients."""


class ProviderUnavailable(ProviderError):
    """Network failure, HTTP error, timeout, or a body that cannot be understood."""


class ProviderRateLimited(ProviderUnavailable):
    """The provider (or our own call budget) refuses more calls for now.

    `daily` is True when the limit resets only the next day: retrying soon is pointless.
    """

    def __init__(self, message: str, *, daily: bool, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.daily = daily
        self.retry_after_seconds = retry_after_seconds


class ProviderRejected(ProviderError):
    """The call is refused for the plan or key (premium-only, invalid or missing key)."""


class UnknownSymbol(ProviderError):
    """The provider does not know the symbol."""


class MarketDataProvider(Protocol):
    """Where bars, quotes and symbol search come from (Alpha Vantage, the simulator, CSV)."""

    @property
    def name(self) -> str:
        """Short source name reported to clients, e.g. "alphavantage"."""
        ...

    @property
    def intervals(self) -> frozenset[Interval]:
        """Intervals this provider (and plan) offers directly."""
        ...

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        """Bars oldest first. `since` asks for history back to that instant when the
        provider can give it; providers may return more, or less when their plan is limited."""
        ...

    async def fetch_quote(self, symbol: str) -> Quote: ...

    async def search(self, query: str) -> list[SymbolMatch]:
        """Best matches first."""
        ...
