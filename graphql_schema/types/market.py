"""GraphQL types of market data: bars, history with indicators, quotes, symbol matches."""

from datetime import datetime
from typing import Any, cast

import strawberry

from domain import indicators
from domain import market as domain
from domain.history import PriceHistory as DomainPriceHistory
from domain.indicators import FloatArray, WindowLongerThanHistory
from graphql_schema.context import Info
from graphql_schema.warnings import warn

# The domain enum is the GraphQL enum: resolvers receive domain values without a mapping.
Interval = domain.Interval
strawberry.enum(Interval, name="Interval")


TRADES_DESCRIPTION = (
    "How many trades the bar holds. Only MIN1 bars have it: built from a stream's trades, or "
    "the stream provider's own minute bars when they send a count; null for every other "
    "interval and whenever it is unknown."
)
VWAP_DESCRIPTION = (
    "Volume-weighted average price of the bar's trades. Only MIN1 bars have it: built from a "
    "stream's trades, or the stream provider's own minute bars when they send one; null for "
    "every other interval, whenever it is unknown, and for a minute without volume."
)


@strawberry.type
class Bar:
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    # Plain attributes like the others: history's bars are completed in one pass.
    trades: int | None = strawberry.field(description=TRADES_DESCRIPTION)
    vwap: float | None = strawberry.field(description=VWAP_DESCRIPTION)


@strawberry.type(
    description="Column-oriented bars: the same data as PriceHistory.bars, one list per field, "
    "for charting clients."
)
class BarColumns:
    timestamp: list[datetime]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    trades: list[int | None] = strawberry.field(
        description="One entry per bar, as Bar.trades (null entries where it has none)."
    )
    vwap: list[float | None] = strawberry.field(
        description="One entry per bar, as Bar.vwap (null entries where it has none)."
    )


@strawberry.type
class IndicatorPoint:
    timestamp: datetime
    value: float


@strawberry.type
class MacdPoint:
    timestamp: datetime
    macd: float
    signal: float
    histogram: float


@strawberry.type
class BollingerPoint:
    timestamp: datetime
    upper: float
    middle: float
    lower: float


@strawberry.type(
    description="Bars of one symbol in [start, end], oldest first. Indicator series cover the "
    "same timestamps and are computed with the history BEFORE start as warm-up, so a value "
    "never depends on the requested range; points without enough history are omitted. An "
    "indicator whose window is longer than the stored history has no points: its list is "
    "empty and extensions.warnings says why (INDICATOR_WINDOW_TOO_LONG); the bars and other "
    "indicators stay. A start before availableFrom also adds a warning (HISTORY_STARTS_LATER)."
)
class PriceHistory:
    symbol: str
    interval: Interval
    source: str = strawberry.field(
        description="Where the bars came from: alphavantage, simulator, csv, ..."
    )
    cached: bool = strawberry.field(
        description="True when served from the cache without contacting the provider."
    )
    stale: bool = strawberry.field(
        description="True when the provider failed and older stored data was served instead."
    )
    fetched_at: datetime
    available_from: datetime = strawberry.field(
        description="The first stored bar of the symbol and interval, whatever start asks for: "
        "the history that exists (a free Alpha Vantage key gets 100 daily bars)."
    )
    available_to: datetime = strawberry.field(
        description="The last stored bar of the symbol and interval, whatever end asks for."
    )
    history: strawberry.Private[DomainPriceHistory]

    @classmethod
    def from_domain(cls, history: DomainPriceHistory) -> "PriceHistory":
        return cls(
            symbol=history.symbol,
            interval=history.interval,
            source=history.source,
            cached=history.cached,
            stale=history.stale,
            fetched_at=history.fetched_at,
            available_from=history.available_from,
            available_to=history.available_to,
            history=history,
        )

    @strawberry.field
    def bars(self) -> list[Bar]:
        # Domain bars carry the same attributes: serve them without copying each one.
        return cast(list[Bar], self.history.series.bars())

    @strawberry.field
    def columns(self) -> BarColumns:
        series = self.history.series
        return BarColumns(
            timestamp=series.timestamps,
            open=series.open,
            high=series.high,
            low=series.low,
            close=series.close,
            volume=series.volume,
            trades=series.trade_counts(),
            vwap=series.vwaps(),
        )

    @strawberry.field
    def sma(self, info: Info, window: int = 20) -> list[IndicatorPoint]:
        try:
            return self._points(indicators.sma(self.history.closes, window))
        except WindowLongerThanHistory as error:
            return _no_points(info, error)

    @strawberry.field
    def ema(self, info: Info, window: int = 20) -> list[IndicatorPoint]:
        try:
            return self._points(indicators.ema(self.history.closes, window))
        except WindowLongerThanHistory as error:
            return _no_points(info, error)

    @strawberry.field
    def rsi(self, info: Info, window: int = 14) -> list[IndicatorPoint]:
        try:
            return self._points(indicators.rsi(self.history.closes, window))
        except WindowLongerThanHistory as error:
            return _no_points(info, error)

    @strawberry.field
    def macd(self, info: Info, fast: int = 12, slow: int = 26, signal: int = 9) -> list[MacdPoint]:
        try:
            lines = indicators.macd(self.history.closes, fast, slow, signal)
            return self._macd_points(*lines)
        except WindowLongerThanHistory as error:
            return _no_points(info, error)

    def _macd_points(
        self, line: FloatArray, signal_line: FloatArray, histogram: FloatArray
    ) -> list[MacdPoint]:
        start, timestamps = self._window()
        window = (line[start:], signal_line[start:], histogram[start:])
        return [
            MacdPoint(timestamp=ts, macd=m, signal=s, histogram=h)
            for ts, m, s, h in indicators.valid_triples(timestamps, window)
        ]

    @strawberry.field
    def bollinger(
        self, info: Info, window: int = 20, deviations: float = 2.0
    ) -> list[BollingerPoint]:
        try:
            return self._bands(*indicators.bollinger(self.history.closes, window, deviations))
        except WindowLongerThanHistory as error:
            return _no_points(info, error)

    def _bands(
        self, upper: FloatArray, middle: FloatArray, lower: FloatArray
    ) -> list[BollingerPoint]:
        start, timestamps = self._window()
        bands = (upper[start:], middle[start:], lower[start:])
        return [
            BollingerPoint(timestamp=ts, upper=u, middle=m, lower=lo)
            for ts, u, m, lo in indicators.valid_triples(timestamps, bands)
        ]

    def _points(self, values: FloatArray) -> list[IndicatorPoint]:
        start, timestamps = self._window()
        return [
            IndicatorPoint(timestamp=ts, value=v)
            for ts, v in indicators.valid_points(timestamps, values[start:])
        ]

    def _window(self) -> tuple[int, list[datetime]]:
        """Where the requested window starts in the warm-up (indicators are computed over all
        of it), and the window's timestamps."""
        start = self.history.window_start
        return start, self.history.warmup.timestamps[start:]


@strawberry.type
class Quote:
    symbol: str
    price: float
    open: float | None
    high: float | None
    low: float | None
    previous_close: float | None
    change: float | None
    change_percent: float | None
    volume: float | None
    timestamp: datetime
    source: str
    stale: bool

    @classmethod
    def from_domain(cls, quote: domain.Quote) -> "Quote":
        return cls(
            symbol=quote.symbol,
            price=quote.price,
            open=quote.open,
            high=quote.high,
            low=quote.low,
            previous_close=quote.previous_close,
            change=quote.change,
            change_percent=quote.change_percent,
            volume=quote.volume,
            timestamp=quote.timestamp,
            source=quote.source,
            stale=quote.stale,
        )


@strawberry.type
class SymbolMatch:
    symbol: str
    name: str
    region: str | None
    currency: str | None
    score: float

    @classmethod
    def from_domain(cls, match: domain.SymbolMatch) -> "SymbolMatch":
        return cls(
            symbol=match.symbol,
            name=match.name,
            region=match.region,
            currency=match.currency,
            score=match.score,
        )


@strawberry.type
class ClearCacheResult:
    symbols: list[str]
    keys_removed: int


def _no_points(info: Info, error: WindowLongerThanHistory) -> list[Any]:
    """An indicator the stored history is too short for: no points, and a warning that says
    so (an error would null the whole history, bars included)."""
    warn(info, "INDICATOR_WINDOW_TOO_LONG", str(error))
    return []
