"""Market data values: intervals, bars (OHLCV), quotes and symbol matches."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

_T = TypeVar("_T")


class Interval(enum.Enum):
    """Bar width. Values are Alpha Vantage's spelling, which the SQL rows reuse.

    MIN1 is the 1-minute bars a streaming provider's trades are aggregated into (see
    domain/minute_bars.py): stored by the worker, never fetched from a provider, and kept
    apart from ONE_MINUTE, the provider's own intraday bars, because a series has one source.
    """

    ONE_MINUTE = "1min"
    FIVE_MINUTES = "5min"
    FIFTEEN_MINUTES = "15min"
    THIRTY_MINUTES = "30min"
    ONE_HOUR = "60min"
    DAILY = "daily"
    WEEKLY = "weekly"
    MIN1 = "min1"

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
    Interval.MIN1: timedelta(minutes=1),
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar.

    `timestamp` is timezone-aware UTC: the bar's opening minute for intraday bars, midnight
    UTC of the trading date for daily bars. Prices are in the listing currency; volume in shares.
    `trades` (the number of trades) and `vwap` (volume-weighted average price) are known only
    for MIN1 bars built from a stream (or sent by its provider); None otherwise, never guessed.
    """

    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int | None = None
    vwap: float | None = None


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


@dataclass(frozen=True, slots=True)
class BarSeries:
    """Bars as columns, oldest first: the shape history is cached, sliced and served in.

    Columns keep 10 years of daily bars cheap to copy, slice and encode; `bars()` builds
    Bar objects only when a caller asks for them. `trades` and `vwap` are None for a series
    none of whose bars has them (every interval but MIN1), else one entry per bar (None where
    that bar's is unknown).
    """

    timestamps: list[datetime]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    trades: list[int | None] | None = None
    vwap: list[float | None] | None = None

    @classmethod
    def from_bars(cls, bars: list[Bar]) -> BarSeries:
        return cls(
            timestamps=[bar.timestamp for bar in bars],
            open=[bar.open for bar in bars],
            high=[bar.high for bar in bars],
            low=[bar.low for bar in bars],
            close=[bar.close for bar in bars],
            volume=[bar.volume for bar in bars],
            trades=_known_column([bar.trades for bar in bars]),
            vwap=_known_column([bar.vwap for bar in bars]),
        )

    def __len__(self) -> int:
        return len(self.timestamps)

    def slice(self, start: int, stop: int) -> BarSeries:
        return BarSeries(
            timestamps=self.timestamps[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            trades=None if self.trades is None else self.trades[start:stop],
            vwap=None if self.vwap is None else self.vwap[start:stop],
        )

    def trade_counts(self) -> list[int | None]:
        """One trade count per bar, None where unknown."""
        return [None] * len(self) if self.trades is None else self.trades

    def vwaps(self) -> list[float | None]:
        """One VWAP per bar, None where unknown."""
        return [None] * len(self) if self.vwap is None else self.vwap

    def bars(self) -> list[Bar]:
        columns = (self.timestamps, self.open, self.high, self.low, self.close, self.volume)
        if self.trades is None and self.vwap is None:
            return [Bar(t, o, h, lo, c, v) for t, o, h, lo, c, v in zip(*columns, strict=True)]
        return [
            Bar(t, o, h, lo, c, v, n, vw)
            for t, o, h, lo, c, v, n, vw in zip(
                *columns, self.trade_counts(), self.vwaps(), strict=True
            )
        ]


def _known_column(values: list[_T | None]) -> list[_T | None] | None:
    """`values`, or None when none of them is known (the column is absent)."""
    # count() runs in C: a 10-year daily series with none known is checked in microseconds.
    return None if values.count(None) == len(values) else values


def weekly_from_daily(daily: BarSeries) -> BarSeries:
    """Aggregate daily bars into ISO-week bars stamped with the week's first trading day."""
    weeks: list[Bar] = []
    current: tuple[int, int] | None = None
    for bar in daily.bars():
        year, week, _ = bar.timestamp.isocalendar()
        if (year, week) != current:
            current = (year, week)
            weeks.append(bar)
            continue
        first = weeks[-1]
        weeks[-1] = Bar(
            timestamp=first.timestamp,
            open=first.open,
            high=max(first.high, bar.high),
            low=min(first.low, bar.low),
            close=bar.close,
            volume=first.volume + bar.volume,
        )
    return BarSeries.from_bars(weeks)
