"""clearCache's domain service: keys go, stored series become due, unknown symbols are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.bar_store import FetchRecord
from domain.cache_clearing import CacheClearing
from domain.errors import InvalidInput, NotFound
from domain.market import Interval
from domain.providers import ProviderUnavailable
from domain.quotes import QuoteService
from tests.support.fakes import DictCache, FakeBarStore, FakeProvider, daily_bars

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider({"AAPL": daily_bars(5, start=START), "IBM": daily_bars(5, start=START)})


@pytest.fixture
def store() -> FakeBarStore:
    return FakeBarStore()


@pytest.fixture
def cache() -> DictCache:
    return DictCache()


@pytest.fixture
def clearing(provider: FakeProvider, store: FakeBarStore, cache: DictCache) -> CacheClearing:
    quotes = QuoteService(provider=provider, store=store, cache=cache)
    return CacheClearing(cache=cache, store=store, quotes=quotes, tracked=("MSFT",))


async def test_a_stored_symbol_is_cleared_and_its_series_due_for_a_refresh(
    clearing: CacheClearing, store: FakeBarStore, cache: DictCache, provider: FakeProvider
) -> None:
    await store.record_fetch(FetchRecord("AAPL", Interval.DAILY, START, "fake"))
    await cache.set("stockql:sym:AAPL:bars:daily", b"x", ttl_seconds=60)
    cleared = await clearing.clear("aapl")
    assert (cleared.symbols, cleared.keys_removed) == (["AAPL"], 1)
    last = await store.last_fetch("AAPL", Interval.DAILY)
    assert last is not None
    assert last.refresh_due is True
    assert cache.values == {}
    assert provider.calls == []


async def test_a_tracked_symbol_is_cleared_without_asking_the_provider(
    clearing: CacheClearing, provider: FakeProvider
) -> None:
    assert (await clearing.clear("MSFT")).keys_removed == 0
    assert provider.calls == []


async def test_a_symbol_only_the_provider_knows_is_cleared_with_its_fresh_quote(
    clearing: CacheClearing, provider: FakeProvider, cache: DictCache
) -> None:
    cleared = await clearing.clear("IBM")
    assert cleared.symbols == ["IBM"]
    assert provider.calls == [("quote", "IBM")]
    assert cache.values == {}


async def test_an_unknown_symbol_is_not_found(clearing: CacheClearing) -> None:
    with pytest.raises(NotFound, match="TESLA"):
        await clearing.clear("Tesla")


async def test_with_the_provider_down_a_well_formed_symbol_is_cleared(
    clearing: CacheClearing, provider: FakeProvider
) -> None:
    provider.failure = ProviderUnavailable("down")
    assert (await clearing.clear("TSLA")).symbols == ["TSLA"]


async def test_a_malformed_symbol_is_bad_input(clearing: CacheClearing) -> None:
    with pytest.raises(InvalidInput):
        await clearing.clear("$$$")


async def test_clearing_everything_makes_every_series_due(
    clearing: CacheClearing, store: FakeBarStore, cache: DictCache
) -> None:
    for symbol in ("AAPL", "IBM"):
        await store.record_fetch(FetchRecord(symbol, Interval.DAILY, START, "fake"))
        await cache.set(f"stockql:sym:{symbol}:quote", b"x", ttl_seconds=60)
    cleared = await clearing.clear(None)
    assert (cleared.symbols, cleared.keys_removed) == (["AAPL", "IBM"], 2)
    assert all(record.refresh_due for record in store.fetches.values())
