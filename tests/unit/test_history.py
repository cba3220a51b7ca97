from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from domain.bar_store import FetchRecord
from domain.cache import symbol_key
from domain.errors import InvalidInput, NotFound, UpstreamUnavailable
from domain.history import HistoryPolicy, HistoryService, provider_may_write
from domain.market import Interval
from domain.providers import ProviderRateLimited, ProviderUnavailable
from tests.support.fakes import Clock, DictCache, FakeBarStore, FakeProvider, daily_bars

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider({"AAPL": daily_bars(100, start=START)})


@pytest.fixture
def store() -> FakeBarStore:
    return FakeBarStore()


@pytest.fixture
def cache() -> DictCache:
    return DictCache()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 6, 3, 15, 0, tzinfo=UTC))


@pytest.fixture
def service(
    provider: FakeProvider, store: FakeBarStore, cache: DictCache, clock: Clock
) -> HistoryService:
    return HistoryService(provider=provider, store=store, cache=cache, clock=clock)


async def test_first_request_fetches_stores_and_caches(
    service: HistoryService, provider: FakeProvider, store: FakeBarStore, cache: DictCache
) -> None:
    history = await service.history("aapl")
    assert history.symbol == "AAPL"
    assert len(history.series) == 100
    assert (history.source, history.cached, history.stale) == ("fake", False, False)
    assert len(store.rows[("AAPL", Interval.DAILY)]) == 100
    assert provider.calls == [("bars", "AAPL")]
    assert cache.values


async def test_second_request_is_served_from_the_cache(
    service: HistoryService, provider: FakeProvider
) -> None:
    await service.history("AAPL")
    again = await service.history("AAPL")
    assert again.cached is True
    assert len(again.series) == 100
    assert provider.calls == [("bars", "AAPL")]


async def test_the_same_cached_bytes_are_decoded_once(service: HistoryService) -> None:
    await service.history("AAPL")
    first = await service.stored_series("AAPL", Interval.DAILY)
    again = await service.stored_series("AAPL", Interval.DAILY)
    assert first.cached is True
    assert again is first  # shared: series are never changed in place


async def test_cached_series_keep_trade_counts_and_vwap(
    store: FakeBarStore, cache: DictCache, clock: Clock
) -> None:
    bars = daily_bars(4, start=START)
    bars[1] = replace(bars[1], trades=12, vwap=100.75)
    provider = FakeProvider({"AAPL": bars})
    service = HistoryService(provider=provider, store=store, cache=cache, clock=clock)
    await service.history("AAPL")
    again = await service.history("AAPL")
    assert again.cached is True
    assert (again.series.trades, again.series.vwap) == (
        [None, 12, None, None],
        [None, 100.75, None, None],
    )
    assert again.series.bars() == bars


async def test_series_without_trade_counts_are_cached_without_those_keys(
    service: HistoryService, cache: DictCache
) -> None:
    await service.history("AAPL")
    entry = orjson.loads(cache.values[symbol_key("AAPL", "bars", "daily")])
    assert {"n", "vw"}.isdisjoint(entry)
    again = await service.history("AAPL")
    assert (again.cached, again.series.trades, again.series.vwap) == (True, None, None)


async def test_an_entry_cached_before_trade_counts_existed_is_still_served(
    service: HistoryService, provider: FakeProvider, cache: DictCache, clock: Clock
) -> None:
    # What the code before trade counts and VWAP wrote: no "n" or "vw" keys.
    old = {
        "source": "fake",
        "fetched_at": clock().timestamp(),
        "stale": False,
        "t": [int(START.timestamp())],
        "o": [99.5],
        "h": [101.0],
        "l": [99.0],
        "c": [100.0],
        "v": [1000.0],
    }
    await cache.set(symbol_key("AAPL", "bars", "daily"), orjson.dumps(old), ttl_seconds=60)
    history = await service.history("AAPL")
    assert (history.cached, history.series.close) == (True, [100.0])
    [bar] = history.series.bars()
    assert (bar.trades, bar.vwap) == (None, None)
    assert provider.calls == []


async def test_fresh_stored_bars_are_used_when_the_cache_is_empty(
    service: HistoryService, provider: FakeProvider, cache: DictCache
) -> None:
    await service.history("AAPL")
    await cache.clear_symbol(None)
    again = await service.history("AAPL")
    assert again.cached is False
    assert provider.calls == [("bars", "AAPL")]


async def test_concurrent_requests_cause_one_upstream_call(
    service: HistoryService, provider: FakeProvider
) -> None:
    provider.delay = 0.05
    results = await asyncio.gather(*(service.history("AAPL") for _ in range(10)))
    assert provider.calls == [("bars", "AAPL")]
    assert {len(result.series) for result in results} == {100}


async def test_provider_failure_serves_stored_bars_as_stale(
    service: HistoryService,
    provider: FakeProvider,
    cache: DictCache,
    clock: Clock,
) -> None:
    await service.history("AAPL")
    await cache.clear_symbol(None)
    clock.now += timedelta(days=1)
    provider.failure = ProviderRateLimited("limit", daily=True)
    history = await service.history("AAPL")
    assert history.stale is True
    assert len(history.series) == 100


async def test_provider_failure_with_nothing_stored_is_upstream_unavailable(
    service: HistoryService, provider: FakeProvider
) -> None:
    provider.failure = ProviderUnavailable("down")
    with pytest.raises(UpstreamUnavailable):
        await service.history("AAPL")


async def test_unknown_symbol_is_not_found(service: HistoryService) -> None:
    with pytest.raises(NotFound):
        await service.history("ZZZZ")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": date(2024, 3, 1), "end": date(2024, 2, 1)}, "start"),
        ({"start": date(2024, 6, 4)}, "start"),
        ({"end": date(2030, 1, 1)}, "end"),
        ({"limit": 0}, "limit"),
        ({"limit": 20_001}, "limit"),
    ],
)
async def test_bad_requests_are_refused_without_upstream_calls(
    service: HistoryService, provider: FakeProvider, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.history("AAPL", **kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert provider.calls == []


async def test_interval_the_provider_does_not_offer_is_refused(service: HistoryService) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.history("AAPL", Interval.ONE_MINUTE)
    assert refused.value.field == "interval"


async def test_invalid_symbol_text_is_refused(service: HistoryService) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.history("not a symbol!")
    assert refused.value.field == "symbol"


async def test_window_keeps_earlier_bars_as_warmup(service: HistoryService) -> None:
    history = await service.history("AAPL", start=date(2024, 3, 1), end=date(2024, 3, 31))
    window = history.series
    assert window.timestamps[0] == datetime(2024, 3, 1, tzinfo=UTC)
    assert window.timestamps[-1] == datetime(2024, 3, 29, tzinfo=UTC)
    assert history.warmup.timestamps[0] == START
    assert history.warmup.timestamps[-1] == window.timestamps[-1]


async def test_limit_keeps_the_newest_bars(service: HistoryService) -> None:
    history = await service.history("AAPL", limit=5)
    assert len(history.series) == 5
    assert history.series.close == [195.0, 196.0, 197.0, 198.0, 199.0]


async def test_weekly_bars_aggregate_daily_bars(service: HistoryService) -> None:
    history = await service.history("AAPL", Interval.WEEKLY, start=date(2024, 1, 1))
    first_week = history.series.bars()[0]
    assert first_week.timestamp == START
    assert first_week.open == 99.5
    assert first_week.close == 104.0
    assert first_week.high == 105.0
    assert first_week.low == 99.0
    assert first_week.volume == sum(1000.0 + i for i in range(5))
    assert len(history.series) == 20


async def test_max_rows_caps_an_unlimited_request(
    provider: FakeProvider, store: FakeBarStore, cache: DictCache, clock: Clock
) -> None:
    service = HistoryService(
        provider=provider,
        store=store,
        cache=cache,
        clock=clock,
        policy=HistoryPolicy(max_rows=30),
    )
    history = await service.history("AAPL")
    assert len(history.series) == 30
    assert history.series.close[-1] == 199.0


async def test_refresh_fetches_from_the_provider_even_when_cached(
    service: HistoryService, provider: FakeProvider
) -> None:
    await service.history("AAPL")
    refreshed = await service.refresh("AAPL")
    assert provider.calls == [("bars", "AAPL"), ("bars", "AAPL")]
    assert (refreshed.cached, refreshed.stale) == (False, False)


async def test_refresh_with_the_provider_down_returns_stored_bars_as_stale(
    service: HistoryService, provider: FakeProvider
) -> None:
    await service.history("AAPL")
    provider.failure = ProviderUnavailable("down")
    refreshed = await service.refresh("AAPL")
    assert refreshed.stale is True
    assert len(refreshed.series) == 100


# Stored series older than the lookback, and one source per series.

OLD = datetime(2000, 1, 3, tzinfo=UTC)


async def store_series(
    store: FakeBarStore, symbol: str, source: str, *, start: datetime, count: int, at: datetime
) -> None:
    """Bars of `source` as a provider fetch or `stockql import-csv` leaves them."""
    bars = daily_bars(count, start=start)
    await store.upsert_bars(symbol, Interval.DAILY, bars, source=source)
    await store.record_fetch(FetchRecord(symbol, Interval.DAILY, at, source))


async def test_stored_bars_older_than_the_lookback_are_read(
    service: HistoryService, provider: FakeProvider, store: FakeBarStore, clock: Clock
) -> None:
    await store_series(store, "AAPL", "fake", start=OLD, count=3000, at=clock.now)
    history = await service.history("AAPL", start=date(2000, 1, 1), end=date(2001, 1, 1))
    assert history.series.timestamps[0] == OLD
    assert len(history.series) == 261
    assert (history.available_from, history.warnings) == (OLD, ())
    assert provider.calls == []


async def test_an_imported_series_is_served_and_the_simulator_never_asked(
    service: HistoryService, provider: FakeProvider, store: FakeBarStore, clock: Clock
) -> None:
    provider.name = "simulator"
    await store_series(store, "AAPL", "csv", start=OLD, count=3000, at=clock.now)
    clock.now += timedelta(days=30)  # long past the freshness of the import
    history = await service.history("AAPL")
    refreshed = await service.refresh("AAPL")
    assert history.source == "csv"
    assert len(history.series) == 3000
    assert history.series.timestamps[0] == OLD
    assert (refreshed.source, refreshed.stale) == ("csv", False)
    assert provider.calls == []
    assert set(store.sources[("AAPL", Interval.DAILY)].values()) == {"csv"}


async def test_real_bars_replace_simulated_ones(
    service: HistoryService, provider: FakeProvider, store: FakeBarStore, clock: Clock
) -> None:
    await store_series(store, "AAPL", "simulator", start=OLD, count=50, at=clock.now)
    clock.now += timedelta(days=1)
    history = await service.history("AAPL")
    assert history.source == "fake"
    assert history.available_from == START
    assert len(history.series) == 100
    assert set(store.sources[("AAPL", Interval.DAILY)].values()) == {"fake"}


async def test_another_real_source_is_not_overwritten_by_the_provider(
    service: HistoryService, provider: FakeProvider, store: FakeBarStore, clock: Clock
) -> None:
    await store_series(store, "AAPL", "alphavantage", start=OLD, count=50, at=clock.now)
    clock.now += timedelta(days=1)
    history = await service.history("AAPL")
    assert (history.source, len(history.series)) == ("alphavantage", 50)
    assert provider.calls == []


@pytest.mark.parametrize(
    ("stored", "provider", "may_write"),
    [
        (None, "simulator", True),
        ("simulator", "simulator", True),
        ("simulator", "alphavantage", True),
        ("alphavantage", "alphavantage", True),
        ("csv", "csv", True),
        ("csv", "simulator", False),
        ("alphavantage", "simulator", False),
        ("csv", "alphavantage", False),
        ("alphavantage", "csv", False),
    ],
)
def test_which_provider_may_write_which_series(
    stored: str | None, provider: str, may_write: bool
) -> None:
    assert provider_may_write(stored, provider) is may_write


async def test_a_refresh_due_record_makes_the_next_read_ask_the_provider(
    service: HistoryService, provider: FakeProvider, store: FakeBarStore, cache: DictCache
) -> None:
    await service.history("AAPL")
    await cache.clear_symbol("AAPL")
    assert await store.request_refresh("AAPL") == 1
    again = await service.history("AAPL")
    assert provider.calls == [("bars", "AAPL"), ("bars", "AAPL")]
    assert again.cached is False
    last = await store.last_fetch("AAPL", Interval.DAILY)
    assert last is not None
    assert last.refresh_due is False


async def test_a_start_before_the_first_stored_bar_is_a_warning(service: HistoryService) -> None:
    history = await service.history("AAPL", start=date(2020, 1, 1))
    assert history.available_from == START
    assert history.available_to == history.series.timestamps[-1]
    assert len(history.series) == 100
    (warning,) = history.warnings
    assert "starts 2024-01-01" in warning
    assert "2020-01-01" in warning


def streamed_service(
    provider: FakeProvider, store: FakeBarStore, cache: DictCache, clock: Clock
) -> HistoryService:
    return HistoryService(provider=provider, store=store, cache=cache, clock=clock, streamed=True)


async def test_min1_is_offered_only_when_a_stream_builds_minute_bars(
    service: HistoryService,
    provider: FakeProvider,
    store: FakeBarStore,
    cache: DictCache,
    clock: Clock,
) -> None:
    assert Interval.MIN1 not in service.intervals
    with pytest.raises(InvalidInput):
        await service.history("AAPL", Interval.MIN1)
    assert Interval.MIN1 in streamed_service(provider, store, cache, clock).intervals


async def test_min1_bars_come_from_the_store_never_from_the_provider(
    provider: FakeProvider, store: FakeBarStore, cache: DictCache, clock: Clock
) -> None:
    service = streamed_service(provider, store, cache, clock)
    with pytest.raises(NotFound, match="No MIN1 bars for AAPL yet"):
        await service.history("AAPL", Interval.MIN1)
    minutes = daily_bars(3, start=datetime(2024, 6, 3, 14, 30, tzinfo=UTC))
    minutes = [
        replace(bar, timestamp=START.replace(month=6, day=3, hour=14, minute=30 + i))
        for i, bar in enumerate(minutes)
    ]
    await store.upsert_bars("AAPL", Interval.MIN1, minutes, source="finnhub")
    await store.record_fetch(FetchRecord("AAPL", Interval.MIN1, clock(), "finnhub"))
    history = await service.history("AAPL", Interval.MIN1)
    assert (len(history.series), history.source, history.cached) == (3, "finnhub", False)
    assert service.fresh_for(history) == 0.0
    assert provider.calls == []
