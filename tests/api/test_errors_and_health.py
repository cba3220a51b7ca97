"""Masked internal errors, readiness with a dependency down, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.history import HistoryService
from domain.quotes import QuoteService
from tests.api.conftest import api_settings
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer, free_port, running_server
from tests.support.ws import LEGACY_WS, TRANSPORT_WS, graphql_ws


async def test_unexpected_errors_are_masked_and_carry_a_request_id(
    sqlite_server: RunningServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(self: HistoryService, *args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(HistoryService, "history", explode)
    response = await sqlite_server.client.post(
        "/graphql",
        json={"query": '{ history(symbol: "AAPL") { symbol } }'},
        headers={"x-request-id": "req-123"},
    )
    body = response.json()
    assert error_code(body) == "INTERNAL_SERVER_ERROR"
    assert body["errors"][0]["message"] == "Internal server error"
    assert "secret internal detail" not in response.text
    assert response.headers["x-request-id"] == "req-123"
    logged = [r for r in caplog.records if r.name == "stockql.graphql"]
    assert logged
    assert "req-123" in logged[0].getMessage()


async def test_errors_raised_inside_a_subscription_stream_are_masked(
    sqlite_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # strawberry hands these over without a path: they must not pass for validation errors.
    async def explode(self: QuoteService, symbol: str) -> None:
        raise ConnectionError("Too many connections to 10.0.0.7:6379")

    monkeypatch.setattr(QuoteService, "latest", explode)
    async with graphql_ws(sqlite_server.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        operation = await ws.subscribe('subscription { stockPrice(symbol: "AAPL") { price } }')
        payload = await ws.next_payload(operation)
    assert payload["errors"][0]["message"] == "Internal server error"
    assert payload["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}


@pytest.fixture
async def server_with_redis_down(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    async with running_server(settings) as running:
        yield running


async def test_readiness_fails_while_redis_is_down_but_queries_still_work(
    server_with_redis_down: RunningServer,
) -> None:
    ready = await server_with_redis_down.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("unavailable")
    assert ready.json()["checks"]["database"] == "ok"
    assert (await server_with_redis_down.client.get("/healthz")).status_code == 200
    body = await server_with_redis_down.graphql(
        '{ history(symbol: "AAPL", limit: 3) { cached bars { close } } }'
    )
    assert len(data(body)["history"]["bars"]) == 3


async def test_a_price_subscription_while_redis_is_down_is_refused_with_a_typed_error(
    server_with_redis_down: RunningServer,
) -> None:
    async with graphql_ws(server_with_redis_down.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        operation = await ws.subscribe('subscription { stockPrice(symbol: "AAPL") { price } }')
        payload = await ws.next_payload(operation)
    assert payload["errors"][0]["extensions"] == {"code": "UPSTREAM_UNAVAILABLE"}
    assert payload["errors"][0]["message"] == "Price events are unavailable; try again shortly"


async def test_a_subscription_posted_as_plain_json_is_refused_not_failed_internally(
    sqlite_server: RunningServer,
) -> None:
    # Found by tests/api/test_property_based_api.py: graphql-core ran it as a query and failed.
    response = await sqlite_server.client.post(
        "/graphql", json={"query": 'subscription { stockPrice(symbol: "AAPL") { price } }'}
    )
    assert response.status_code == 400
    assert response.text == "subscriptions are not allowed when using POST"


@pytest.mark.parametrize("operation_name", [7, ["Symbols"], {"name": "Symbols"}, True])
async def test_an_operation_name_that_is_not_a_string_is_refused(
    sqlite_server: RunningServer, operation_name: object
) -> None:
    response = await sqlite_server.client.post(
        "/graphql", json={"query": "query Symbols { symbols }", "operationName": operation_name}
    )
    assert response.status_code == 400
    assert response.text == "Can't get GraphQL operation type"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("query", [5, None, "", ["{ symbols }"]])
async def test_a_websocket_operation_without_a_query_string_is_bad_input(
    sqlite_server: RunningServer, protocol: str, query: object
) -> None:
    # strawberry failed on these with an internal error (and a logged traceback each).
    async with graphql_ws(sqlite_server.base_url, protocol=protocol) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        kind = "subscribe" if protocol == TRANSPORT_WS else "start"
        await ws.send({"id": "1", "type": kind, "payload": {"query": query}})
        payload = await ws.next_payload("1")
    assert payload["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("variables", [["AAPL"], "AAPL", 5, True])
async def test_websocket_variables_that_are_not_an_object_are_bad_input(
    sqlite_server: RunningServer, protocol: str, variables: object
) -> None:
    # graphql-core failed on these with an internal error (and a logged traceback each).
    query = "subscription ($s: String!) { stockPrice(symbol: $s) { price } }"
    async with graphql_ws(sqlite_server.base_url, protocol=protocol) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        kind = "subscribe" if protocol == TRANSPORT_WS else "start"
        await ws.send(
            {"id": "1", "type": kind, "payload": {"query": query, "variables": variables}}
        )
        payload = await ws.next_payload("1")
    assert payload["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert payload["errors"][0]["message"] == "The operation's variables must be a JSON object"
