"""The server with Alpha Vantage as provider, against a local fake Alpha Vantage server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.api.conftest import api_settings
from tests.support.fake_alphavantage import (
    BURST_LIMIT,
    EMPTY_QUOTE,
    FakeAlphaVantage,
    daily_limit,
)
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer, running_server

HISTORY = """
query($symbol: String!) {
  history(symbol: $symbol) { symbol source cached stale bars { timestamp close } }
}
"""
LATEST_PRICE = "query($symbol: String!) { latestPrice(symbol: $symbol) { price source stale } }"
SEARCH = "query($q: String!) { searchSymbols(query: $q) { symbol name } }"


@pytest.fixture
async def server(
    pg_url: str, redis_url: str, fake_alphavantage: FakeAlphaVantage
) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=pg_url,
        redis_url=redis_url,
        provider="alphavantage",
        alphavantage_api_key=fake_alphavantage.api_key,
        alphavantage_base_url=fake_alphavantage.base_url,
        alphavantage_calls_per_minute=1000,
        alphavantage_calls_per_day=10_000,
        alphavantage_max_retries=0,
    )
    async with running_server(settings) as running:
        yield running


def functions(fake: FakeAlphaVantage) -> list[str]:
    return [call["function"] for call in fake.calls]


async def expire_cache(redis_url: str) -> None:
    """Forget cached answers and make every stored fetch old, so the provider is asked again."""
    client = aioredis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def age_fetches(server: RunningServer) -> None:
    from sqlalchemy import text

    async with server.app.state.runtime.engine.begin() as connection:
        await connection.execute(
            text("UPDATE bar_fetches SET fetched_at = fetched_at - interval '2 days'")
        )


async def test_history_comes_from_alpha_vantage_and_is_then_cached(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    first = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    assert first["source"] == "alphavantage"
    assert first["cached"] is False
    assert len(first["bars"]) == 100
    second = data(await server.graphql(HISTORY, {"symbol": "ibm"}))["history"]
    assert second["cached"] is True
    assert functions(fake_alphavantage) == ["TIME_SERIES_DAILY"]


async def test_concurrent_requests_for_one_symbol_make_one_upstream_call(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(delay=0.3)
    bodies = await asyncio.gather(*(server.graphql(HISTORY, {"symbol": "MSFT"}) for _ in range(8)))
    assert all("errors" not in body for body in bodies)
    assert functions(fake_alphavantage) == ["TIME_SERIES_DAILY"]


async def test_upstream_down_with_nothing_stored_is_upstream_unavailable(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(status=503)
    body = await server.graphql(HISTORY, {"symbol": "IBM"})
    assert error_code(body) == "UPSTREAM_UNAVAILABLE"


@pytest.mark.parametrize(
    "answer",
    [
        {"text": "<html>Bad gateway</html>"},
        {"json": {}},
        {"json": {"Time Series (Daily)": {"2024-05-03": {"1. open": "abc"}}}},
        {"json": {"Meta Data": {}, "Time Series (Daily)": "nope"}},
    ],
)
async def test_malformed_provider_bodies_are_upstream_unavailable(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage, answer: dict[str, Any]
) -> None:
    fake_alphavantage.enqueue(**answer)
    body = await server.graphql(HISTORY, {"symbol": "IBM"})
    assert error_code(body) == "UPSTREAM_UNAVAILABLE"
    assert "Traceback" not in str(body)


async def test_daily_limit_serves_stored_bars_as_stale(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage, redis_url: str
) -> None:
    fresh = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    await expire_cache(redis_url)
    await age_fetches(server)
    fake_alphavantage.enqueue(json=daily_limit(fake_alphavantage.api_key))
    stale = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    assert stale["stale"] is True
    assert stale["bars"] == fresh["bars"]
    assert functions(fake_alphavantage) == ["TIME_SERIES_DAILY", "TIME_SERIES_DAILY"]


async def test_burst_limit_is_reported_without_leaking_the_key(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(json=BURST_LIMIT)
    body = await server.graphql(HISTORY, {"symbol": "IBM"})
    assert error_code(body) == "UPSTREAM_UNAVAILABLE"
    assert fake_alphavantage.api_key not in str(body)


async def test_unknown_symbol_is_not_found(server: RunningServer) -> None:
    assert error_code(await server.graphql(HISTORY, {"symbol": "ZZZQ"})) == "NOT_FOUND"
    assert error_code(await server.graphql(LATEST_PRICE, {"symbol": "ZZZQ"})) == "NOT_FOUND"


async def test_latest_price_comes_from_global_quote(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    quote = data(await server.graphql(LATEST_PRICE, {"symbol": "IBM"}))["latestPrice"]
    assert (quote["source"], quote["stale"]) == ("alphavantage", False)
    assert quote["price"] > 0
    assert functions(fake_alphavantage) == ["GLOBAL_QUOTE"]


async def test_latest_price_falls_back_to_the_newest_stored_bar(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    history = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    fake_alphavantage.enqueue(status=500)
    quote = data(await server.graphql(LATEST_PRICE, {"symbol": "IBM"}))["latestPrice"]
    assert quote["stale"] is True
    assert quote["price"] == history["bars"][-1]["close"]


async def test_empty_global_quote_is_not_found(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(json=EMPTY_QUOTE)
    assert error_code(await server.graphql(LATEST_PRICE, {"symbol": "IBM"})) == "NOT_FOUND"


async def test_search_uses_symbol_search_and_falls_back_to_the_directory(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    found = data(await server.graphql(SEARCH, {"q": "tesco"}))["searchSymbols"]
    assert "TSCO.LON" in [match["symbol"] for match in found]
    fake_alphavantage.enqueue(status=503)
    fallback = data(await server.graphql(SEARCH, {"q": "Apple"}))["searchSymbols"]
    assert fallback[0]["symbol"] == "AAPL"


async def test_an_unknown_symbol_costs_one_provider_call_then_is_remembered(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    # Each ask would spend one of the day's 25 free calls (and log a line).
    for _ in range(3):
        assert error_code(await server.graphql(LATEST_PRICE, {"symbol": "ZZZQ"})) == "NOT_FOUND"
        assert error_code(await server.graphql(HISTORY, {"symbol": "ZZZQ"})) == "NOT_FOUND"
    assert functions(fake_alphavantage) == ["GLOBAL_QUOTE"]
    # A known symbol is not affected.
    assert data(await server.graphql(LATEST_PRICE, {"symbol": "IBM"}))["latestPrice"]["price"] > 0
