"""The market data provider port and the failures a provider reports."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from domain.errors import RateLimited, StockQLError, UpstreamUnavailable
from domain.market import Bar, Interval, Quote, SymbolMatch

# A rate limit that names no wait: per-minute limits are the common kind.
_DEFAULT_RETRY_AFTER_SECONDS = 60


class ProviderError(Exception):
    """Base of provider failures. The message is for logs, not for clients."""


class ProviderUnavailable(ProviderError):
    """Network failure, HTTP error, timeout, or a body that cannot be understood."""


class ProviderRateLimited(ProviderUnavailable):
    """The provider (or our own call budget) refuses more calls for now.

    `daily` is True when the limit resets only the next day: retrying soon is pointless.
    `retry_after_seconds` is the wait until the limit resets, when known. `window_seconds` is
    the length of the fixed clock window the limit counts calls in (60 for a per-minute limit,
    86,400 for a daily one reset at 00:00 UTC), when known: the wait is then to its end.
    """

    def __init__(
        self,
        message: str,
        *,
        daily: bool,
        retry_after_seconds: float | None = None,
        window_seconds: float | None = None,
    ):
        super().__init__(message)
        self.daily = daily
        self.retry_after_seconds = retry_after_seconds
        self.window_seconds = window_seconds


class ProviderRejected(ProviderError):
    """The call is refused for the plan or key (premium-only, invalid or missing key)."""


class UnknownSymbol(ProviderError):
    """The provider does not know the symbol."""


def seconds_to_next_utc_day(now: datetime) -> float:
    """Seconds from `now` (aware) to the next 00:00 UTC, when daily call limits reset."""
    midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    return (midnight - now).total_seconds()


def unavailable_error(error: ProviderError, *, nothing_stored: str) -> StockQLError:
    """What a client is told when the provider failed and nothing stored can answer instead.

    `nothing_stored` ends the message, e.g. "nothing is stored for IBM". A used-up daily
    limit is UpstreamUnavailable with the wait to the next UTC midnight (no quick retry can
    help); a shorter rate limit (per minute or second) is RateLimited with its wait; any other
    failure is UpstreamUnavailable. Waits are whole seconds, at least 1.
    """
    if isinstance(error, ProviderRateLimited):
        wait = error.retry_after_seconds
        if error.daily:
            if wait is None:
                wait = seconds_to_next_utc_day(datetime.now(UTC))
            return UpstreamUnavailable(
                "The market data provider's daily call limit is used up and "
                f"{nothing_stored}; it resets at 00:00 UTC",
                retry_after_seconds=_whole_seconds(wait),
            )
        seconds = _whole_seconds(_DEFAULT_RETRY_AFTER_SECONDS if wait is None else wait)
        return RateLimited(
            "The market data provider's rate limit is reached and "
            f"{nothing_stored}; try again in {seconds} s",
            retry_after_seconds=seconds,
        )
    return UpstreamUnavailable(f"The market data provider is unavailable and {nothing_stored}")


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


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
