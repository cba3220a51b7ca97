"""The server with Alpha Vantage as provider, against a local fake Alpha Vantage server."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.api.conftest import alpha_vantage_settings, api_settings
from tests.support.fake_alphavantage import (
    BURST_LIMIT,
    EMPTY_QUOTE,
    NOTE_LIMIT,
    PREMIUM_MINUTE_LIMIT,
    FakeAlphaVantage,
    daily_limit,
)
from tests.support.graphql import data, error_code, first_error
from tests.support.server import RunningServer, running_server

HISTORY = """
query($symbol: String!) {
  history(symbol: $symbol) { symbol source cached stale bars { timestamp close } }
}
"""
LATEST_PRICE = "query($symbol: String!) { latestPrice(symbol: $symbol) { price source stale } }"
LATEST_PRICE_AT = "query($symbol: String!) { latestPrice(symbol: $symbol) { price timestamp } }"
SEARCH = "query($q: String!) { searchSymbols(query: $q) { symbol name } }"


@pytest.fixture
async def server(
    pg_url: str, redis_url: str, fake_alphavantage: FakeAlphaVantage
) -> AsyncIterator[RunningServer]:
    settings = alpha_vantage_settings(fake_alphavantage, database_url=pg_url, redis_url=redis_url)
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


async def test_burst_limit_is_rate_limited_without_leaking_the_key(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(json=BURST_LIMIT)
    body = await server.graphql(HISTORY, {"symbol": "IBM"})
    assert error_code(body) == "RATE_LIMITED"
    assert first_error(body)["extensions"]["retryAfterSeconds"] == 1
    assert fake_alphavantage.api_key not in str(body)


async def clear_of_a_minute_end(seconds: float) -> None:
    """Wait for the next clock minute when this one ends within `seconds`."""
    into_minute = time.time() % 60
    if into_minute > 60 - seconds:
        await asyncio.sleep(60 - into_minute)


def seconds_to_midnight_utc() -> float:
    return 86_400 - time.time() % 86_400


@pytest.mark.parametrize("query", [HISTORY, LATEST_PRICE], ids=["history", "latestPrice"])
async def test_daily_limit_with_nothing_stored_is_unavailable_until_midnight_utc(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage, query: str
) -> None:
    fake_alphavantage.enqueue(json=daily_limit(fake_alphavantage.api_key))
    expected = seconds_to_midnight_utc()

    error = first_error(await server.graphql(query, {"symbol": "IBM"}))

    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert abs(error["extensions"]["retryAfterSeconds"] - expected) <= 5
    assert "daily call limit" in error["message"]
    assert fake_alphavantage.api_key not in str(error)


@pytest.mark.parametrize("query", [HISTORY, LATEST_PRICE], ids=["history", "latestPrice"])
@pytest.mark.parametrize("limit", [PREMIUM_MINUTE_LIMIT, NOTE_LIMIT], ids=["premium", "note"])
async def test_per_minute_limit_with_nothing_stored_is_rate_limited_until_the_next_minute(
    server: RunningServer,
    fake_alphavantage: FakeAlphaVantage,
    query: str,
    limit: dict[str, str],
) -> None:
    await clear_of_a_minute_end(5)
    fake_alphavantage.enqueue(json=limit)
    before = 60 - time.time() % 60

    error = first_error(await server.graphql(query, {"symbol": "IBM"}))

    assert error["extensions"]["code"] == "RATE_LIMITED"
    wait = error["extensions"]["retryAfterSeconds"]
    assert 1 <= wait <= math.ceil(before)


async def test_per_minute_limit_serves_stored_bars_as_stale(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage, redis_url: str
) -> None:
    fresh = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    await expire_cache(redis_url)
    await age_fetches(server)
    fake_alphavantage.enqueue(json=PREMIUM_MINUTE_LIMIT)
    stale = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    assert stale["stale"] is True
    assert stale["bars"] == fresh["bars"]


async def test_a_quote_of_a_trading_day_still_under_way_is_not_stamped_in_the_future(
    server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    # Whatever day the provider calls "latest", its 16:00 New York close may be hours ahead
    # (the report: 21:00Z at 17:47Z); the quote is as of when it was fetched, at the latest.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    fake_alphavantage.enqueue(json=global_quote("IBM", latest_trading_day=tomorrow))
    asked = datetime.now(UTC)

    quote = data(await server.graphql(LATEST_PRICE_AT, {"symbol": "IBM"}))["latestPrice"]

    stamped = datetime.fromisoformat(quote["timestamp"])
    assert asked - timedelta(seconds=1) <= stamped <= datetime.now(UTC)
    assert quote["timestamp"].endswith("Z")


def global_quote(symbol: str, *, latest_trading_day: str) -> dict[str, dict[str, str]]:
    return {
        "Global Quote": {
            "01. symbol": symbol,
            "02. open": "186.6500",
            "03. high": "187.2300",
            "04. low": "185.2100",
            "05. price": "186.2100",
            "06. volume": "3459781",
            "07. latest trading day": latest_trading_day,
            "08. previous close": "185.6100",
            "09. change": "0.6000",
            "10. change percent": "0.3231%",
        }
    }


@asynccontextmanager
async def budgeted_server(
    pg_url: str, redis_url: str, fake: FakeAlphaVantage, *, per_minute: int, per_day: int
) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=pg_url,
        redis_url=redis_url,
        provider="alphavantage",
        alphavantage_api_key=fake.api_key,
        alphavantage_base_url=fake.base_url,
        alphavantage_calls_per_minute=per_minute,
        alphavantage_calls_per_day=per_day,
        alphavantage_max_retries=0,
    )
    async with running_server(settings) as running:
        yield running


async def test_our_daily_budget_used_up_is_unavailable_until_midnight_utc(
    pg_url: str, redis_url: str, fake_alphavantage: FakeAlphaVantage
) -> None:
    async with budgeted_server(
        pg_url, redis_url, fake_alphavantage, per_minute=100, per_day=1
    ) as server:
        data(await server.graphql(HISTORY, {"symbol": "IBM"}))
        error = first_error(await server.graphql(HISTORY, {"symbol": "MSFT"}))

    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert abs(error["extensions"]["retryAfterSeconds"] - seconds_to_midnight_utc()) <= 5
    assert functions(fake_alphavantage) == ["TIME_SERIES_DAILY"]


async def test_our_minute_budget_used_up_is_rate_limited_until_the_next_minute(
    pg_url: str, redis_url: str, fake_alphavantage: FakeAlphaVantage
) -> None:
    # The budget waits for a minute that ends within 2 s instead of refusing: start early.
    await clear_of_a_minute_end(10)
    async with budgeted_server(
        pg_url, redis_url, fake_alphavantage, per_minute=1, per_day=100
    ) as server:
        data(await server.graphql(HISTORY, {"symbol": "IBM"}))
        error = first_error(await server.graphql(LATEST_PRICE, {"symbol": "MSFT"}))
        remaining = 60 - time.time() % 60

    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert math.ceil(remaining) <= error["extensions"]["retryAfterSeconds"] <= 60
    assert functions(fake_alphavantage) == ["TIME_SERIES_DAILY"]


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
