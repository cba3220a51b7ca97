from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from domain.errors import NotFound, UpstreamUnavailable
from domain.market import Interval
from domain.providers import ProviderUnavailable
from domain.quotes import QuoteService
from tests.support.fakes import DictCache, FakeBarStore, FakeProvider, daily_bars
from tests.support.held_answers import HeldFirstAnswer

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider({"AAPL": daily_bars(10, start=START)})


@pytest.fixture
def store() -> FakeBarStore:
    return FakeBarStore()


@pytest.fixture
def service(provider: FakeProvider, store: FakeBarStore) -> QuoteService:
    return QuoteService(provider=provider, store=store, cache=DictCache())


async def test_latest_price_comes_from_the_provider_then_the_cache(
    service: QuoteService, provider: FakeProvider
) -> None:
    first = await service.latest("aapl")
    second = await service.latest("AAPL")
    assert first == second
    assert first.price == 109.0
    assert first.stale is False
    assert provider.calls == [("quote", "AAPL")]


async def test_provider_failure_falls_back_to_the_newest_stored_bar(
    service: QuoteService, provider: FakeProvider, store: FakeBarStore
) -> None:
    await store.upsert_bars("AAPL", Interval.DAILY, daily_bars(3, start=START), source="fake")
    provider.failure = ProviderUnavailable("down")
    quote = await service.latest("AAPL")
    assert quote.stale is True
    assert quote.price == 102.0


async def test_provider_failure_with_nothing_stored_is_upstream_unavailable(
    service: QuoteService, provider: FakeProvider
) -> None:
    provider.failure = ProviderUnavailable("down")
    with pytest.raises(UpstreamUnavailable):
        await service.latest("AAPL")


async def test_unknown_symbol_is_not_found(service: QuoteService) -> None:
    with pytest.raises(NotFound):
        await service.latest("ZZZZ")


class _LateCache(DictCache):
    """A cache whose first read answers from before it is held: a caller whose read was
    sent before another's fetch filled the cache, and answered after that fetch ended."""

    def __init__(self) -> None:
        super().__init__()
        self.first = HeldFirstAnswer()

    async def get(self, key: str) -> bytes | None:
        return await self.first.hold(await super().get(key))


async def test_a_caller_whose_cache_read_predates_a_finished_fetch_does_not_fetch_again(
    provider: FakeProvider, store: FakeBarStore
) -> None:
    cache = _LateCache()
    service = QuoteService(provider=provider, store=store, cache=cache)
    behind = asyncio.create_task(service.latest("AAPL"))
    await cache.first.held.wait()  # it missed the cache, and is not told yet
    first = await service.latest("AAPL")  # fetches and fills the cache
    cache.first.release.set()
    assert await behind == first
    assert provider.calls == [("quote", "AAPL")]
