from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import NotFound, UpstreamUnavailable
from domain.market import Interval
from domain.providers import ProviderUnavailable
from domain.quotes import QuoteService
from tests.support.fakes import DictCache, FakeBarStore, FakeProvider, daily_bars

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
