"""AlpacaDataProvider against a local fake of Alpaca's market data REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from app.adapters.alpaca_data import AlpacaDataProvider
from app.adapters.symbol_directory import SymbolDirectory
from app.metrics import Metrics
from domain.market import Interval
from domain.providers import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)
from tests.support.fake_alpaca_data import FakeAlpacaData
from tests.support.streams import sample

TODAY = datetime(2026, 12, 4, 20, 30, 15, tzinfo=UTC)  # a Friday, after the close


@pytest.fixture
async def fake() -> AsyncIterator[FakeAlpacaData]:
    async with FakeAlpacaData(page_size=50, today=TODAY) as fake:
        yield fake


def provider_for(
    fake: FakeAlpacaData, session: aiohttp.ClientSession, metrics: Metrics, **options: object
) -> AlpacaDataProvider:
    settings: dict[str, object] = {
        "session": session,
        "key_id": fake.key_id,
        "secret_key": fake.secret_key,
        "names": SymbolDirectory(),
        "base_url": fake.base_url,
        "backoff_seconds": 0.01,
        "clock": lambda: TODAY,
        "metrics": metrics,
    }
    return AlpacaDataProvider(**(settings | options))  # type: ignore[arg-type]


@pytest.fixture
def provider(
    fake: FakeAlpacaData, http_session: aiohttp.ClientSession, metrics: Metrics
) -> AlpacaDataProvider:
    return provider_for(fake, http_session, metrics)


async def test_daily_bars_follow_every_page_and_are_stamped_at_midnight_utc(
    provider: AlpacaDataProvider, fake: FakeAlpacaData, metrics: Metrics
) -> None:
    since = TODAY - timedelta(days=180)
    bars = await provider.fetch_bars("AAPL", Interval.DAILY, since=since)
    days = fake.daily_starts(since)
    assert len(bars) == len(days) > 100
    assert [bar.timestamp for bar in bars] == [
        datetime(day.year, day.month, day.day, tzinfo=UTC) for day in days
    ]
    assert [bar.close for bar in bars] == [100.0 + n for n in range(len(days))]
    path, query = fake.calls[0]
    assert path == "/v2/stocks/AAPL/bars"
    assert (query["timeframe"], query["feed"], query["adjustment"]) == ("1Day", "iex", "raw")
    assert query["start"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(fake.calls) == -(-len(days) // 50)
    assert [q.get("page_token") for _, q in fake.calls[1:]] == [
        str(50 * page) for page in range(1, len(fake.calls))
    ]
    assert sample(
        metrics, "stockql_provider_requests_total", provider="alpaca", function="bars"
    ) == len(fake.calls)


async def test_intraday_bars_keep_their_opening_minute(provider: AlpacaDataProvider) -> None:
    bars = await provider.fetch_bars(
        "AAPL", Interval.FIVE_MINUTES, since=TODAY - timedelta(hours=1)
    )
    assert bars
    assert all(bar.timestamp.minute % 5 == 0 and bar.timestamp.tzinfo is UTC for bar in bars)
    assert bars[-1].timestamp <= TODAY


async def test_the_latest_price_comes_from_the_snapshot(provider: AlpacaDataProvider) -> None:
    quote = await provider.fetch_quote("MSFT")
    assert (quote.symbol, quote.price, quote.source) == ("MSFT", 187.5, "alpaca")
    assert quote.timestamp == TODAY.replace(microsecond=0)
    assert (quote.open, quote.high, quote.low, quote.volume) == (186.0, 188.0, 185.0, 1000.0)
    assert (quote.previous_close, quote.change) == (185.0, 2.5)
    assert quote.change_percent == pytest.approx(2.5 / 185 * 100)


async def test_a_rejected_key_is_provider_rejected(
    fake: FakeAlpacaData, http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    provider = provider_for(fake, http_session, metrics, secret_key="wrong-secret")
    with pytest.raises(ProviderRejected, match="HTTP 403") as rejected:
        await provider.fetch_quote("AAPL")
    assert "wrong-secret" not in str(rejected.value)


async def test_an_unknown_symbol_is_unknown_and_has_no_bars(provider: AlpacaDataProvider) -> None:
    with pytest.raises(UnknownSymbol):
        await provider.fetch_quote("ZZZQ")
    assert await provider.fetch_bars("ZZZQ", Interval.DAILY) == []


async def test_a_rate_limit_says_when_the_minute_resets(
    provider: AlpacaDataProvider, fake: FakeAlpacaData
) -> None:
    reset = str(int((TODAY + timedelta(seconds=42)).timestamp()))
    fake.enqueue(
        status=429, body={"message": "too many requests"}, headers={"X-RateLimit-Reset": reset}
    )
    with pytest.raises(ProviderRateLimited) as limited:
        await provider.fetch_quote("AAPL")
    assert (limited.value.daily, limited.value.retry_after_seconds) == (False, 42.0)


async def test_server_errors_are_retried(
    provider: AlpacaDataProvider, fake: FakeAlpacaData
) -> None:
    fake.enqueue(status=503, times=2)
    assert (await provider.fetch_quote("AAPL")).price == 187.5
    assert len(fake.calls) == 3


async def test_errors_that_outlast_the_retries_are_unavailable(
    provider: AlpacaDataProvider, fake: FakeAlpacaData
) -> None:
    fake.enqueue(status=500, times=4)
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        await provider.fetch_bars("AAPL", Interval.DAILY)


async def test_search_uses_the_local_directory_without_a_call(
    provider: AlpacaDataProvider, fake: FakeAlpacaData
) -> None:
    matches = await provider.search("Apple")
    assert matches[0].symbol == "AAPL"
    assert fake.calls == []
