"""Market data values: intervals, bars (OHLCV), quotes and symbol matches."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Interval(enum.Enum):
    """Bar width. Values are Alpha Vantage's spelling, which the SQL rows reuse."""

    ONE_MINUTE = "1min"
    FIVE_MINUTES = "5min"
    FIFTEEN_MINUTES = "15min"
    THIRTY_MINUTES = "30min"
    ONE_HOUR = "60min"
    DAILY = "daily"
    WEEKLY = "weekly"

    @property
    def is_intraday(self) -> bool:
        return self not in (Interval.DAILY, Interval.WEEKLY)

    @property
    def length(self) -> timedelta:
        """Nominal width of one bar (a trading day for DAILY, a week for WEEKLY)."""
        return _LENGTHS[self]


_LENGTHS = {
    Interval.ONE_MINUTE: timedelta(minutes=1),
    Interval.FIVE_MINUTES: timedelta(minutes=5),
    Interval.FIFTEEN_MINUTES: timedelta(minutes=15),
    Interval.THIRTY_MINUTES: timedelta(minutes=30),
    Interval.ONE_HOUR: timedelta(hours=1),
    Interval.DAILY: timedelta(days=1),
    Interval.WEEKLY: timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar.

    `timestamp` is timezone-aware UTC: the bar's opening minute for intraday bars, midnight
    UTC of the trading date for daily bars. Prices are in the listing currency; volume in shares.
    """

    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest known price of a symbol. `change_percent` is percent, not a fraction."""

    symbol: str
    price: float
    timestamp: datetime
    source: str
    open: float | None = None
    high: float | None = None
    low: float | None = None
    previous_close: float | None = None
    change: float | None = None
    change_percent: float | None = None
    volume: float | None = None
    stale: bool = False


@dataclass(frozen=True, slots=True)
class SymbolMatch:
    """A search hit; `score` is 0..1, higher is better."""

    symbol: str
    name: str
    score: float
    region: str | None = None
    currency: str | None = None
