"""Subscriptions started directly (graphql_schema/fanout/direct.py) against the general path:
the same messages, the same errors, the same metrics, over a real uvicorn, PostgreSQL and Redis.

Each test counts strawberry's `stream` calls (the general path) to know which path ran."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.routing import WebSocketRoute

from graphql_schema.fanout.direct import DirectSubscriptions
from graphql_schema.schema import StockQLSchema
from tests.api.conftest import api_settings
from tests.api.test_subscriptions_api import STOCK_PRICE, publish, updates
from tests.support.metrics import scrape
from tests.support.server import RunningServer, running_server
from tests.support.ws import GraphQLWebSocket, graphql_ws

SUBSCRIPTIONS = "stockql_graphql_subscriptions"
REQUESTS = "stockql_graphql_requests_total"


class GeneralPathRuns:
    """Counts the operations strawberry's own path runs (its schema's `stream`)."""

    def __init__(self, schema: StockQLSchema, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        general = schema.stream

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await general(*args, **kwargs)

        monkeypatch.setattr(schema, "stream", counted)


def schema_of(server: RunningServer) -> StockQLSchema:
    for route in server.app.routes:
        if isinstance(route, WebSocketRoute):
            schema = route.endpoint.schema  # type: ignore[attr-defined]
            assert isinstance(schema, StockQLSchema)
            return schema
    raise AssertionError("no websocket route")


def direct_of(server: RunningServer) -> DirectSubscriptions:
    direct = schema_of(server).direct_subscriptions
    assert direct is not None
    return direct


@pytest.fixture
async def direct_server(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    """A server of its own: which documents are known depends on what ran before."""
    async with running_server(api_settings(database_url=pg_url, redis_url=redis_url)) as server:
        yield server


async def messages_until_complete(ws: GraphQLWebSocket, operation: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = await ws.receive()
        if message.get("id") == operation:
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages


async def test_the_next_subscriber_of_a_document_starts_directly_with_the_same_messages(
    direct_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    general = GeneralPathRuns(schema_of(direct_server), monkeypatch)
    async with graphql_ws(direct_server.base_url) as ws:
        await ws.init()
        first = await ws.subscribe(STOCK_PRICE, {"symbol": "AAPL"})
        opening = await updates(ws, first)
        assert (general.count, len(direct_of(direct_server))) == (1, 1)
        second = await ws.subscribe(STOCK_PRICE, {"symbol": "aapl"})
        assert await updates(ws, second) == {second: opening[first]}
        assert general.count == 1  # the second started directly
        for price in (101.5, 102.25):
            published = await publish(direct_server, "AAPL", price)
            received = await updates(ws, first, second)
            assert received[first] == received[second]
            assert received[second]["stockPrice"]["sequence"] == published.sequence
        # Another text is another document: the general path first.
        other = await ws.subscribe('subscription { stockPrice(symbol: "MSFT") { price } }')
        await updates(ws, other)
        assert general.count == 2


@pytest.mark.parametrize(
    "variables",
    [{"symbol": "ZZZZ"}, {"symbol": "AAPL", "after": "garbage"}],
    ids=["unknown symbol", "malformed after"],
)
async def test_an_error_of_the_stream_is_reported_as_on_the_general_path(
    direct_server: RunningServer, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    general = GeneralPathRuns(schema_of(direct_server), monkeypatch)
    async with graphql_ws(direct_server.base_url) as ws:
        await ws.init()
        before = await messages_until_complete(ws, await ws.subscribe(STOCK_PRICE, variables))
        await updates(ws, await ws.subscribe(STOCK_PRICE, {"symbol": "AAPL"}))  # now known
        failing = await ws.subscribe(STOCK_PRICE, variables)
        directly = await messages_until_complete(ws, failing)
    assert general.count == 2  # the last one started directly
    assert [message["type"] for message in directly] == ["next", "complete"]
    assert directly[0]["payload"]["errors"][0]["extensions"]["code"] in (
        "NOT_FOUND",
        "BAD_USER_INPUT",
    )
    assert [{**message, "id": "-"} for message in directly] == [
        {**message, "id": "-"} for message in before
    ]


@pytest.mark.parametrize(
    "variables",
    [{}, {"symbol": 5}, {"symbol": "AAPL\u0000"}],
    ids=["missing", "not a string", "control character"],
)
async def test_refused_variables_of_a_known_document_take_the_general_path(
    direct_server: RunningServer, monkeypatch: pytest.MonkeyPatch, variables: dict[str, Any]
) -> None:
    general = GeneralPathRuns(schema_of(direct_server), monkeypatch)
    async with graphql_ws(direct_server.base_url) as ws:
        await ws.init()
        await updates(ws, await ws.subscribe(STOCK_PRICE, {"symbol": "AAPL"}))
        refused = await messages_until_complete(ws, await ws.subscribe(STOCK_PRICE, variables))
    assert general.count == 2
    assert [message["type"] for message in refused] == ["error"]
    assert refused[0]["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_direct_subscriptions_are_counted_and_stop_like_any_other(
    direct_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    general = GeneralPathRuns(schema_of(direct_server), monkeypatch)
    named = STOCK_PRICE.replace("subscription(", "subscription Prices(")
    async with graphql_ws(direct_server.base_url) as ws:
        await ws.init()
        kept = await ws.subscribe(named, {"symbol": "MSFT"})
        await updates(ws, kept)
        stopped = await ws.subscribe(named, {"symbol": "MSFT"})
        await updates(ws, stopped)
        assert general.count == 1
        running = await scrape(direct_server.client)
        assert running.value(SUBSCRIPTIONS) == 2
        await ws.stop(stopped)
        for price in (3.0, 4.0):
            await publish(direct_server, "MSFT", price)
            while True:
                message = await ws.receive()
                assert message.get("id") != stopped, message
                if message.get("id") == kept:
                    assert message["payload"]["data"]["stockPrice"]["price"] == price
                    break
        after_stop = await scrape(direct_server.client)
    assert after_stop.value(SUBSCRIPTIONS) == 1
    assert after_stop.value(REQUESTS, operation_name="Prices", operation_type="subscription") == 1
