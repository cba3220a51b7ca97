"""Redis going away under a running `stockql serve` on Alpha Vantage (the fake, counting its
calls) and PostgreSQL: a `redis-server` of the test's own is stopped and started again on
the same port, empty, as a restarted one may come back.

What tests/processes/test_replicas.py and tests/api/test_errors_and_health.py already show
is not repeated here: price and notification subscriptions flowing again after a Redis
restart, and a server whose Redis was never up answering history and /readyz 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from tests.faults._backing import alphavantage_backing
from tests.support.accounts import LOGIN, unique_email
from tests.support.fake_alphavantage import FakeAlphaVantage
from tests.support.graphql import data
from tests.support.processes import (
    StockqlProcess,
    ThrowawayRedis,
    running_stockql,
    stockql_env,
)
from tests.support.server import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(300)

HISTORY = """
query($symbol: String!) { history(symbol: $symbol) { source cached stale bars { close } } }
"""
LATEST_PRICE = """
query($symbol: String!) { latestPrice(symbol: $symbol) { price source stale } }
"""
LOGIN_LIMIT = 3
RECOVERY = 10.0


@dataclass
class Deployment:
    server: StockqlProcess
    redis: ThrowawayRedis
    provider: FakeAlphaVantage


@pytest.fixture(scope="module")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    directory = tmp_path_factory.mktemp("redis-outage")
    async with alphavantage_backing(
        directory,
        alphavantage_calls_per_minute="1000",
        alphavantage_calls_per_day="10000",
        alphavantage_max_retries="0",
        login_free_failures=str(LOGIN_LIMIT),
    ) as backing:
        env = stockql_env(**backing.settings, port=str(free_port()), migrate_on_start="true")
        async with running_stockql("serve", env, directory=directory) as server:
            yield Deployment(server, backing.redis, backing.provider)


@asynccontextmanager
async def redis_stopped(deployment: Deployment) -> AsyncIterator[None]:
    """Redis stopped for the block; started again (empty) on the way out, and the server
    ready again before the next test."""
    await deployment.redis.stop()
    try:
        yield
    finally:
        await deployment.redis.start()
        await eventually(lambda: readiness(deployment.server, 200), within=RECOVERY, every=0.2)


async def readiness(server: StockqlProcess, status: int) -> bool:
    assert server.client is not None
    return (await server.client.get("/readyz")).status_code == status


async def test_while_redis_is_down_stored_history_comes_from_the_database_without_the_provider(
    deployment: Deployment,
) -> None:
    server, provider = deployment.server, deployment.provider
    before = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    calls = len(provider.calls)
    async with redis_stopped(deployment):
        during = data(await server.graphql(HISTORY, {"symbol": "IBM"}))["history"]
        # Still fresh in the database (daily TTL): no provider call, the same bars.
        assert len(provider.calls) == calls
        assert during == before | {"cached": False}
        assert await readiness(server, 503)
        assert server.client is not None
        assert (await server.client.get("/healthz")).status_code == 200
    assert before["source"] == "alphavantage"
    assert before["stale"] is False


async def test_while_redis_is_down_latest_price_answers_from_the_provider_or_the_database(
    deployment: Deployment,
) -> None:
    server, provider = deployment.server, deployment.provider
    data(await server.graphql(HISTORY, {"symbol": "MSFT"}))  # stores MSFT's daily bars
    async with redis_stopped(deployment):
        # The call budget in Redis is out of reach: this process counts on its own.
        quote = data(await server.graphql(LATEST_PRICE, {"symbol": "MSFT"}))["latestPrice"]
        assert (quote["source"], quote["stale"]) == ("alphavantage", False)
        # The provider failing too: the newest stored close, marked stale.
        provider.enqueue(status=503)
        quote = data(await server.graphql(LATEST_PRICE, {"symbol": "MSFT"}))["latestPrice"]
        assert (quote["source"], quote["stale"]) == ("database", True)
        assert quote["price"] > 0


async def test_while_redis_is_down_login_attempts_are_still_limited(
    deployment: Deployment,
) -> None:
    server = deployment.server
    attempt = {"input": {"email": unique_email(), "password": "not the password"}}
    async with redis_stopped(deployment):
        results = [
            data(await server.graphql(LOGIN, attempt))["login"]["__typename"]
            for _ in range(LOGIN_LIMIT + 2)
        ]
    # The free failures and the one that starts the back-off, then waits.
    assert results == ["InvalidCredentialsError"] * (LOGIN_LIMIT + 1) + ["RateLimitedError"]
