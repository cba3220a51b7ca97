"""GET /metrics after real traffic: operations, errors, websockets, events, provider, cache,
jobs. The app runs on the embedded defaults (SQLite, in-process bus) with its jobs inside, so
that nothing is published on a shared Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.events import PriceUpdated
from tests.api.conftest import api_settings
from tests.support.fake_alphavantage import FakeAlphaVantage, daily_limit
from tests.support.graphql import data, error_code
from tests.support.metrics import Samples, scrape
from tests.support.server import RunningServer, running_server
from tests.support.waiting import eventually
from tests.support.ws import graphql_ws

LATEST = 'query Latest { latestPrice(symbol: "AAPL") { price } }'
CLEAR_CACHE = "mutation Clear { clearCache { keysRemoved } }"
PRICES = 'subscription Prices { stockPrice(symbol: "AAPL") { price } }'


@pytest.fixture
async def app_with_jobs(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}",
        worker_in_process=True,
        simulator_tick_seconds=0.2,
    )
    async with running_server(settings) as running:
        yield running


async def metrics(server: RunningServer) -> Samples:
    return await scrape(server.client)


async def test_queries_are_counted_and_timed_per_operation_name_and_type(
    sqlite_server: RunningServer,
) -> None:
    for _ in range(3):
        data(await sqlite_server.graphql(LATEST))
    samples = await metrics(sqlite_server)
    labels = {"operation_name": "Latest", "operation_type": "query"}
    assert samples.value("stockql_graphql_requests_total", **labels) == 3
    assert samples.value("stockql_graphql_request_duration_seconds_count", **labels) == 3
    assert samples.value("stockql_graphql_request_duration_seconds_sum", **labels) > 0


async def test_errors_are_counted_by_their_code_and_bad_documents_by_type_unknown(
    sqlite_server: RunningServer,
) -> None:
    assert error_code(await sqlite_server.graphql(CLEAR_CACHE)) == "UNAUTHENTICATED"
    assert error_code(await sqlite_server.graphql("{ latestPrice(")) == "BAD_USER_INPUT"
    samples = await metrics(sqlite_server)
    requests = "stockql_graphql_requests_total"
    assert [
        samples.value("stockql_graphql_errors_total", code="UNAUTHENTICATED"),
        samples.value("stockql_graphql_errors_total", code="BAD_USER_INPUT"),
        samples.value(requests, operation_name="Clear", operation_type="mutation"),
        samples.value(requests, operation_name="anonymous", operation_type="unknown"),
    ] == [1, 1, 1, 1]


async def test_client_chosen_operation_names_that_are_not_names_become_other(
    sqlite_server: RunningServer,
) -> None:
    response = await sqlite_server.client.post(
        "/graphql", json={"query": LATEST, "operationName": "Latest; DROP TABLE"}
    )
    assert response.status_code == 400  # no such operation in the document
    samples = await metrics(sqlite_server)
    assert samples.total("stockql_graphql_requests_total", operation_name="other") == 1
    assert samples.total("stockql_graphql_requests_total", operation_name="Latest; DROP TABLE") == 0


async def test_websocket_connections_and_subscriptions_are_gauged_while_open(
    sqlite_server: RunningServer,
) -> None:
    async with graphql_ws(sqlite_server.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        operation = await ws.subscribe(PRICES)
        await ws.next_payload(operation)  # the snapshot: the subscription is running
        samples = await metrics(sqlite_server)
        assert samples.value("stockql_websocket_connections") == 1
        assert samples.value("stockql_graphql_subscriptions") == 1
        await ws.stop(operation)

        async def subscription_ended() -> bool:
            return (await metrics(sqlite_server)).value("stockql_graphql_subscriptions") == 0

        await eventually(subscription_ended)

    async def connection_closed() -> bool:
        return (await metrics(sqlite_server)).value("stockql_websocket_connections") == 0

    await eventually(connection_closed)
    samples = await metrics(sqlite_server)
    assert (
        samples.value(
            "stockql_graphql_requests_total",
            operation_name="Prices",
            operation_type="subscription",
        )
        == 1
    )


async def test_events_are_counted_as_published_and_delivered_per_channel_kind(
    sqlite_server: RunningServer,
) -> None:
    prices = sqlite_server.app.state.runtime.services.prices
    async with graphql_ws(sqlite_server.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        operation = await ws.subscribe(PRICES)
        await ws.next_payload(operation)  # the snapshot (it may have published a first price)
        before = await metrics(sqlite_server)
        await prices.append(PriceUpdated("AAPL", 123.5, datetime.now(UTC)))
        assert (await ws.next_payload(operation))["data"]["stockPrice"]["price"] == 123.5
    after = await metrics(sqlite_server)

    def added(name: str, kind: str) -> float:
        return after.value(name, kind=kind) - before.value(name, kind=kind)

    # One price goes out on its symbol's channel and on the all-stocks channel.
    assert added("stockql_events_published_total", "stock") == 1
    assert added("stockql_events_published_total", "stocks_all") == 1
    assert added("stockql_events_delivered_total", "stock") == 1
    # Nobody here listens to all stocks: published, never delivered.
    assert after.value("stockql_events_delivered_total", kind="stocks_all") == 0


async def test_jobs_provider_calls_and_cache_lookups_are_counted(
    app_with_jobs: RunningServer,
) -> None:
    async def polled_twice() -> bool:
        samples = await metrics(app_with_jobs)
        return samples.value("stockql_job_runs_total", job="poll_quotes", outcome="ok") >= 2

    await eventually(polled_twice, within=30)
    # GOOG is not polled: its first quote misses the cache (twice: the fetch's single flight
    # reads it again before it asks the provider), the second one hits it (another
    # document: the response cache would answer the same one whole).
    for fields in ("price", "price symbol"):
        data(await app_with_jobs.graphql(f'{{ latestPrice(symbol: "GOOG") {{ {fields} }} }}'))
    samples = await metrics(app_with_jobs)
    assert samples.value("stockql_job_duration_seconds_count", job="poll_quotes") >= 2
    assert samples.value("stockql_events_published_total", kind="stock") >= 2
    assert (
        samples.value(
            "stockql_provider_calls_total", provider="simulator", operation="quote", outcome="ok"
        )
        >= 1
    )
    assert samples.value("stockql_cache_hits_total", kind="quote") >= 1
    assert samples.value("stockql_cache_misses_total", kind="quote") == 2
    assert samples.total("stockql_job_runs_total", outcome="failed") == 0


async def test_process_metrics_come_with_the_apps_own(sqlite_server: RunningServer) -> None:
    samples = await metrics(sqlite_server)
    assert samples.value("process_resident_memory_bytes") > 0
    assert samples.has("python_gc_collections_total")
    # No model was trained: no active model to report.
    assert not samples.has("stockql_active_model_info")


async def test_provider_rate_limit_answers_are_counted(
    tmp_path: Path, fake_alphavantage: FakeAlphaVantage
) -> None:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}",
        provider="alphavantage",
        alphavantage_api_key=fake_alphavantage.api_key,
        alphavantage_base_url=fake_alphavantage.base_url,
        alphavantage_max_retries=0,
    )
    async with running_server(settings) as server:
        fake_alphavantage.enqueue(json=daily_limit(fake_alphavantage.api_key))
        body = await server.graphql('{ latestPrice(symbol: "IBM") { price } }')
        assert error_code(body) == "UPSTREAM_UNAVAILABLE"
        samples = await metrics(server)
    provider = {"provider": "alphavantage"}
    assert [
        samples.value("stockql_provider_rate_limited_total", **provider, window="day"),
        samples.value("stockql_provider_requests_total", **provider, function="GLOBAL_QUOTE"),
        samples.value(
            "stockql_provider_calls_total", **provider, operation="quote", outcome="rate_limited"
        ),
    ] == [1, 1, 1]
