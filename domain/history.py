"""Price history: cache -> database -> provider, with stale fallback and one upstream call
per symbol at a time.

A symbol's bars of one interval (a series) have one source, named by its fetch record: the
provider that wrote them, or "csv" for `stockql import-csv`. The provider writes a series only
when nothing is stored, when it is that source already, or when what is stored is simulated
(real bars replace simulated ones, never the reverse); otherwise the stored bars are served
and the provider is not asked. The lookback bounds what is fetched from a provider; every
stored bar is read, whatever its age.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import numpy as np
import orjson

from domain import trading_calendar
from domain.bar_store import BarStore, FetchRecord
from domain.cache import Cache, symbol_key
from domain.errors import InvalidInput, NotFound
from domain.market import BarSeries, Interval, weekly_from_daily
from domain.providers import MarketDataProvider, ProviderError, UnknownSymbol, unavailable_error
from domain.single_flight import SingleFlight
from domain.symbols import normalize_symbol
from domain.unknown_symbols import UnknownSymbols

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HistoryPolicy:
    """How long fetched history stays fresh, how far back a provider fetch asks for, how much
    one request gets. The lookbacks bound provider fetches only, never reads of stored bars."""

    daily_ttl_seconds: float = 3600.0
    intraday_ttl_seconds: float = 60.0
    # After a provider failure the stored data is cached this long before the provider is
    # tried again, so an outage does not turn every request into an upstream call.
    stale_ttl_seconds: float = 30.0
    max_rows: int = 20_000
    daily_lookback: timedelta = timedelta(days=3660)
    intraday_lookback: timedelta = timedelta(days=45)

    def ttl(self, interval: Interval) -> float:
        return self.intraday_ttl_seconds if interval.is_intraday else self.daily_ttl_seconds

    def lookback(self, interval: Interval) -> timedelta:
        return self.intraday_lookback if interval.is_intraday else self.daily_lookback


SIMULATED_SOURCE = "simulator"


def provider_may_write(stored_source: str | None, provider: str) -> bool:
    """Whether bars fetched from `provider` may be written into a series whose stored source
    is `stored_source` (None: nothing stored). Simulated bars never replace, mix with or hide
    imported or real ones; real bars replace simulated ones; a series of one real source is
    not overwritten by another (an import is the authority for its symbol)."""
    return stored_source in (None, provider, SIMULATED_SOURCE)


@dataclass(frozen=True, slots=True)
class StoredSeries:
    """All bars known for a symbol and interval, with where and when they were fetched."""

    series: BarSeries
    source: str
    fetched_at: datetime
    cached: bool = False
    stale: bool = False


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """Bars of one symbol in the requested window.

    `warmup` holds every known bar up to the window's end, oldest first; the window is
    `warmup[window_start:]`. Indicators are computed over `warmup` and then cut to the
    window, so their values never depend on the requested range. `available_from` and
    `available_to` are the first and last stored bars' timestamps, whatever the window;
    `warnings` say why the window is shorter than asked for.
    """

    symbol: str
    interval: Interval
    warmup: BarSeries
    window_start: int
    source: str
    cached: bool
    stale: bool
    fetched_at: datetime
    available_from: datetime
    available_to: datetime
    warnings: tuple[str, ...] = ()
    _closes: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    @property
    def series(self) -> BarSeries:
        return self.warmup.slice(self.window_start, len(self.warmup))

    @property
    def closes(self) -> np.ndarray:
        """Closing prices of `warmup` as float64, built once per history."""
        if not self._closes:
            self._closes.append(np.asarray(self.warmup.close, dtype=np.float64))
        return self._closes[0]


class HistoryService:
    def __init__(
        self,
        *,
        provider: MarketDataProvider,
        store: BarStore,
        cache: Cache,
        policy: HistoryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        unknown: UnknownSymbols | None = None,
        streamed: bool = False,
    ) -> None:
        """`unknown`: the symbols the provider does not know (shared with QuoteService);
        `streamed`: a streaming provider feeds the MIN1 bars of the tracked symbols."""
        self._provider = provider
        self._store = store
        self._cache = cache
        self._unknown = unknown or UnknownSymbols(cache)
        self._policy = policy or HistoryPolicy()
        self._clock = clock
        self._flights: SingleFlight[StoredSeries] = SingleFlight()
        self._streamed = streamed

    @property
    def intervals(self) -> frozenset[Interval]:
        """Intervals that can be asked for: the provider's, plus WEEKLY built from DAILY, plus
        MIN1 when a stream builds minute bars."""
        offered = self._provider.intervals
        if Interval.DAILY in offered:
            offered = offered | {Interval.WEEKLY}
        return offered | {Interval.MIN1} if self._streamed else offered

    async def history(
        self,
        symbol: str,
        interval: Interval = Interval.DAILY,
        *,
        start: date | None = None,
        end: date | None = None,
        limit: int | None = None,
    ) -> PriceHistory:
        """Bars with start <= date <= end (UTC dates, both optional), the newest `limit` of
        them when given. Raises InvalidInput, NotFound or UpstreamUnavailable."""
        symbol = normalize_symbol(symbol)
        self._check_request(interval, start, end, limit)
        base = Interval.DAILY if interval is Interval.WEEKLY else interval
        stored = await self.stored_series(symbol, base)
        series = weekly_from_daily(stored.series) if interval is Interval.WEEKLY else stored.series

        timestamps = series.timestamps
        first = 0 if start is None else bisect.bisect_left(timestamps, _day_start(start))
        stop = len(timestamps)
        if end is not None:
            stop = bisect.bisect_left(timestamps, _day_start(end + timedelta(days=1)))
        rows = min(limit or self._policy.max_rows, self._policy.max_rows)
        first = max(first, stop - rows)
        available_from, available_to = timestamps[0], timestamps[-1]
        return PriceHistory(
            symbol=symbol,
            interval=interval,
            warmup=series.slice(0, stop) if stop < len(series) else series,
            window_start=min(first, stop),
            source=stored.source,
            cached=stored.cached,
            stale=stored.stale,
            fetched_at=stored.fetched_at,
            available_from=available_from,
            available_to=available_to,
            warnings=_coverage_warnings(
                symbol, interval, stored.source, start, available_from, available_to
            ),
        )

    async def stored_series(self, symbol: str, interval: Interval) -> StoredSeries:
        """Every known bar of a valid symbol: from the cache, else the database while it is
        fresh, else the provider (one call per symbol and interval at a time)."""
        if interval is Interval.MIN1:
            return await self._streamed_series(symbol)
        key = symbol_key(symbol, "bars", interval.value)
        blob = await self._cache.get(key)
        if blob is not None:
            return _decode(blob)
        return await self._flights.run(key, lambda: self._load(symbol, interval, key))

    def fresh_for(self, history: PriceHistory) -> float:
        """Seconds until `history` is due for a refresh (0 when stale): how long a copy of a
        response showing it may be kept. A series the provider may not write (an import)
        changes only by an import or a clear, which invalidate such copies themselves."""
        ttl = self._policy.ttl(history.interval)
        if history.stale or history.interval is Interval.MIN1:
            return 0.0
        if not provider_may_write(history.source, self._provider.name):
            return ttl
        age = (self._clock() - history.fetched_at).total_seconds()
        return max(0.0, ttl - age)

    async def refresh(self, symbol: str, interval: Interval = Interval.DAILY) -> StoredSeries:
        """Fetch from the provider now, whatever the cache holds (the worker's scheduled
        refresh); on a provider failure the stored bars come back with stale=True."""
        symbol = normalize_symbol(symbol)
        key = symbol_key(symbol, "bars", interval.value)
        last = await self._store.last_fetch(symbol, interval)
        return await self._flights.run(key, lambda: self._fetch(symbol, interval, key, last))

    def _check_request(
        self, interval: Interval, start: date | None, end: date | None, limit: int | None
    ) -> None:
        if interval not in self.intervals:
            offered = ", ".join(sorted(i.name for i in self.intervals))
            raise InvalidInput(
                f"Interval {interval.name} is not offered by the provider; use one of {offered}",
                field="interval",
            )
        today = self._clock().date()
        for name, day in (("start", start), ("end", end)):
            if day is not None and day > today:
                raise InvalidInput(f"{name} {day.isoformat()} is in the future", field=name)
        if start is not None and end is not None and start > end:
            raise InvalidInput("start must not be after end", field="start")
        if limit is not None and not 1 <= limit <= self._policy.max_rows:
            raise InvalidInput(
                f"limit must be between 1 and {self._policy.max_rows}", field="limit"
            )

    async def _load(self, symbol: str, interval: Interval, key: str) -> StoredSeries:
        now = self._clock()
        ttl = self._policy.ttl(interval)
        last = await self._store.last_fetch(symbol, interval)
        # A clearCache makes the record due: the next read asks the provider.
        if (
            last is not None
            and not last.refresh_due
            and (now - last.fetched_at).total_seconds() < ttl
        ):
            stored = await self._from_store(symbol, interval, last)
            if stored is not None:
                remaining = ttl - (now - last.fetched_at).total_seconds()
                await self._cache.set(key, _encode(stored), ttl_seconds=remaining)
                return stored
        if last is None:  # never fetched: maybe a symbol the provider said it does not know
            await self._unknown.check(symbol)
        return await self._fetch(symbol, interval, key, last)

    async def _fetch(
        self, symbol: str, interval: Interval, key: str, last: FetchRecord | None
    ) -> StoredSeries:
        now = self._clock()
        ttl = self._policy.ttl(interval)
        if last is not None and not provider_may_write(last.source, self._provider.name):
            # Another source owns the series (an import, or a real provider while the
            # simulator is configured): its bars are served and the provider is not asked.
            owned = await self._from_store(symbol, interval, last)
            if owned is not None:
                await self._cache.set(key, _encode(owned), ttl_seconds=ttl)
                return owned
        try:
            bars = await self._provider.fetch_bars(
                symbol, interval, since=now - self._policy.lookback(interval)
            )
        except ProviderError as error:
            return await self._fall_back(symbol, interval, key, last, error)
        source = self._provider.name
        # The provider is (or becomes) the series' only source: bars of another one (simulated
        # bars it replaces) are deleted in the same transaction.
        await self._store.upsert_bars(
            symbol, interval, bars, source=source, replace_other_sources=True
        )
        record = FetchRecord(symbol=symbol, interval=interval, fetched_at=now, source=source)
        await self._store.record_fetch(record)
        stored = await self._from_store(symbol, interval, record)
        if stored is None:
            raise NotFound(f"No {interval.name} data for {symbol}")
        await self._cache.set(key, _encode(stored), ttl_seconds=ttl)
        return stored

    async def _fall_back(
        self,
        symbol: str,
        interval: Interval,
        key: str,
        last: FetchRecord | None,
        error: ProviderError,
    ) -> StoredSeries:
        log.log(
            logging.INFO if isinstance(error, UnknownSymbol) else logging.WARNING,
            "provider %s failed for %s %s: %s",
            self._provider.name,
            symbol,
            interval.value,
            type(error).__name__,
        )
        record = last or FetchRecord(symbol, interval, self._clock(), "database")
        stored = await self._from_store(symbol, interval, record)
        if stored is None:
            if isinstance(error, UnknownSymbol):
                raise await self._unknown.remember(symbol) from error
            raise unavailable_error(
                error, nothing_stored=f"nothing is stored for {symbol}"
            ) from error
        stale = StoredSeries(stored.series, stored.source, stored.fetched_at, stale=True)
        await self._cache.set(key, _encode(stale), ttl_seconds=self._policy.stale_ttl_seconds)
        return stale

    async def _streamed_series(self, symbol: str) -> StoredSeries:
        # Neither cached nor fetched: the worker rewrites the newest minute bars every
        # second from the stream, and no provider is asked for them.
        record = await self._store.last_fetch(symbol, Interval.MIN1)
        stored = None
        if record is not None:
            stored = await self._from_store(symbol, Interval.MIN1, record)
        if stored is None:
            raise NotFound(
                f"No MIN1 bars for {symbol} yet: they are built from the live trades of the "
                "tracked symbols"
            )
        return stored

    async def _from_store(
        self, symbol: str, interval: Interval, record: FetchRecord
    ) -> StoredSeries | None:
        # Every stored bar: the lookback bounds provider fetches, not what the store holds
        # (an import of twenty years stays visible).
        bars = await self._store.load_bars(symbol, interval)
        if not bars:
            return None
        return StoredSeries(BarSeries.from_bars(bars), record.source, record.fetched_at)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _coverage_warnings(
    symbol: str,
    interval: Interval,
    source: str,
    start: date | None,
    available_from: datetime,
    available_to: datetime,
) -> tuple[str, ...]:
    """A warning when the requested start is before the first stored bar by at least one
    NYSE trading day: the window is shorter than asked for (a free Alpha Vantage key gets 100
    daily bars, for example). A start on the weekend before the first bar is no warning."""
    if start is None or trading_calendar.previous_trading_day(available_from.date()) < start:
        return ()
    return (
        f"{symbol} {interval.name} history ({source}) starts {available_from.date()} and ends "
        f"{available_to.date()}; the requested start {start} is earlier",
    )


def _encode(stored: StoredSeries) -> bytes:
    series = stored.series
    entry: dict[str, object] = {
        "source": stored.source,
        "fetched_at": stored.fetched_at.timestamp(),
        "stale": stored.stale,
        "t": [int(ts.timestamp()) for ts in series.timestamps],
        "o": series.open,
        "h": series.high,
        "l": series.low,
        "c": series.close,
        "v": series.volume,
    }
    # Only when the series has them: entries written before these columns existed lack the
    # keys and decode as a series without them, and older code ignores keys it does not know.
    if series.trades is not None:
        entry["n"] = series.trades
    if series.vwap is not None:
        entry["vw"] = series.vwap
    return orjson.dumps(entry)


# predict, the alerts' RSI and history read the same few cached series again and again, and
# decoding 10 years of daily bars (2,520 datetimes) costs ~1 ms each time; hashing the bytes
# to find them here costs ~0.04 ms. Sharing is safe: the series are frozen dataclasses of
# columns that nothing changes in place.
@lru_cache(maxsize=32)
def _decode(blob: bytes) -> StoredSeries:
    data = orjson.loads(blob)
    series = BarSeries(
        timestamps=[datetime.fromtimestamp(ts, UTC) for ts in data["t"]],
        open=data["o"],
        high=data["h"],
        low=data["l"],
        close=data["c"],
        volume=data["v"],
        trades=data.get("n"),
        vwap=data.get("vw"),
    )
    fetched_at = datetime.fromtimestamp(data["fetched_at"], UTC)
    return StoredSeries(series, data["source"], fetched_at, cached=True, stale=data["stale"])
