"""Subscriptions over both websocket protocols against the real app, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import pytest

from app.server_config import uvicorn_config
from domain.events import PriceUpdated, user_channel
from tests.api.conftest import api_settings
from tests.support.accounts import admin_token, bearer, signed_up
from tests.support.graphql import data
from tests.support.metrics import scrape
from tests.support.server import RunningServer, running_server
from tests.support.waiting import subscribed
from tests.support.ws import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket, graphql_ws

STOCK_PRICE = """
subscription($symbol: String!, $after: String) {
  stockPrice(symbol: $symbol, after: $after) {
    type symbol price volume change changePercent timestamp sequence
  }
}
"""
ALL_STOCKS = "subscription { allStocks { symbol price sequence } }"
NOTIFICATIONS = """
subscription($userId: ID) { userNotifications(userId: $userId) { id type symbol message read } }
"""

PROTOCOLS = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])


async def publish(server: RunningServer, symbol: str, price: float) -> PriceUpdated:
    prices = server.app.state.runtime.services.prices
    event = PriceUpdated(symbol=symbol, price=price, timestamp=datetime.now(UTC))
    appended: PriceUpdated = await prices.append(event)
    return appended


async def update(ws: GraphQLWebSocket, operation: str) -> dict[str, Any]:
    payload = await ws.next_payload(operation)
    assert "errors" not in payload, payload
    result: dict[str, Any] = payload["data"]
    return result


async def updates(ws: GraphQLWebSocket, *operations: str) -> dict[str, dict[str, Any]]:
    """The next update of each operation, whatever the order they arrive in."""
    received: dict[str, dict[str, Any]] = {}
    while len(received) < len(operations):
        message = await ws.receive(within=10.0)
        if message.get("id") in operations and message["type"] in ("next", "data"):
            assert message["id"] not in received, message
            received[message["id"]] = message["payload"]["data"]
    return received


@PROTOCOLS
async def test_stock_price_sends_a_snapshot_then_every_update(
    server: RunningServer, protocol: str
) -> None:
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        operation = await ws.subscribe(STOCK_PRICE, {"symbol": "aapl"})
        snapshot = (await update(ws, operation))["stockPrice"]
        assert snapshot["type"] == "stock_price_update"
        assert snapshot["symbol"] == "AAPL"
        assert snapshot["price"] > 0
        for price in (101.5, 102.25):
            published = await publish(server, "AAPL", price)
            live = (await update(ws, operation))["stockPrice"]
            assert (live["price"], live["sequence"]) == (price, published.sequence)
            assert live["timestamp"].endswith("Z")


@PROTOCOLS
async def test_without_direct_writes_every_frame_goes_through_asgi_with_the_same_messages(
    pg_url: str, redis_url: str, protocol: str
) -> None:
    """STOCKQL_WS_DIRECT_WRITES=false: uvicorn's own websocket protocol, nothing written past
    ASGI, and subscribers see exactly what the direct path sends."""
    settings = api_settings(database_url=pg_url, redis_url=redis_url, ws_direct_writes=False)
    # What running_server serves with, as `stockql serve` does.
    assert uvicorn_config(None, settings, host="127.0.0.1", port=0).ws == "websockets-sansio"  # type: ignore[arg-type]
    async with (
        running_server(settings) as server,
        graphql_ws(server.base_url, protocol=protocol) as ws,
    ):
        await ws.init()
        operation = await ws.subscribe(STOCK_PRICE, {"symbol": "AAPL"})
        await update(ws, operation)
        for price in (101.5, 102.25):
            published = await publish(server, "AAPL", price)
            live = (await update(ws, operation))["stockPrice"]
            assert (live["price"], live["sequence"]) == (price, published.sequence)


@PROTOCOLS
async def test_live_updates_answer_the_subscribers_own_selection(
    server: RunningServer, protocol: str
) -> None:
    """Live updates are encoded once for everyone asking the same (graphql_schema/
    fanout): each subscriber still gets its aliases, fragments and variables."""
    selections = {
        "a": "subscription($s: String!) { p: stockPrice(symbol: $s) { __typename price } }",
        "b": 'subscription { stockPrice(symbol: "NVDA") { ...Seq } } '
        "fragment Seq on StockPriceUpdate { sequence last: price }",
    }
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        await ws.init()
        a = await ws.subscribe(selections["a"], {"s": "NVDA"})
        b = await ws.subscribe(selections["b"])
        await updates(ws, a, b)  # the snapshots
        for price in (7.5, 8.25):
            published = await publish(server, "NVDA", price)
            assert await updates(ws, a, b) == {
                a: {"p": {"__typename": "StockPriceUpdate", "price": price}},
                b: {"stockPrice": {"sequence": published.sequence, "last": price}},
            }


@PROTOCOLS
async def test_a_stopped_subscription_gets_no_more_updates(
    server: RunningServer, protocol: str
) -> None:
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        await ws.init()
        stopped = await ws.subscribe(STOCK_PRICE, {"symbol": "AMZN"})
        kept = await ws.subscribe(STOCK_PRICE, {"symbol": "AMZN"})
        for price in (None, 1.0, 2.0):  # the snapshot, then live (handed off after the first)
            if price is not None:
                await publish(server, "AMZN", price)
            await updates(ws, stopped, kept)
        await ws.stop(stopped)
        after_stop: list[dict[str, Any]] = []
        for price in (3.0, 4.0):
            await publish(server, "AMZN", price)
            while True:
                message = await ws.receive(within=10.0)
                if message.get("id") == stopped:
                    after_stop.append(message)
                elif message.get("id") == kept and message["type"] in ("next", "data"):
                    assert message["payload"]["data"]["stockPrice"]["price"] == price
                    break
    # The legacy protocol confirms the stop; neither sends another update.
    assert [message["type"] for message in after_stop] in ([], ["complete"])


async def test_resuming_with_after_replays_without_gap_or_duplicate(server: RunningServer) -> None:
    first = await publish(server, "MSFT", 10.0)
    missed = [await publish(server, "MSFT", 10.0 + i) for i in range(1, 6)]
    async with graphql_ws(server.base_url) as ws:
        await ws.init()
        operation = await ws.subscribe(STOCK_PRICE, {"symbol": "MSFT", "after": first.sequence})
        replayed = [(await update(ws, operation))["stockPrice"] for _ in missed]
        assert [u["sequence"] for u in replayed] == [event.sequence for event in missed]
        live_event = await publish(server, "MSFT", 99.0)
        live = (await update(ws, operation))["stockPrice"]
        assert live["sequence"] == live_event.sequence


@pytest.mark.parametrize(
    ("variables", "code"),
    [({"symbol": "ZZZZ"}, "NOT_FOUND"), ({"symbol": "AAPL", "after": "garbage"}, "BAD_USER_INPUT")],
)
async def test_bad_stock_price_arguments_are_typed_errors(
    server: RunningServer, variables: dict[str, str], code: str
) -> None:
    async with graphql_ws(server.base_url) as ws:
        await ws.init()
        operation = await ws.subscribe(STOCK_PRICE, variables)
        payload = await ws.next_payload(operation)
        assert payload["errors"][0]["extensions"]["code"] == code


@PROTOCOLS
async def test_all_stocks_opens_with_the_latest_price_of_every_tracked_symbol_then_every_update(
    server: RunningServer, protocol: str
) -> None:
    stored = await publish(server, "AAPL", 1.0)
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        await ws.init()
        operation = await ws.subscribe(ALL_STOCKS)
        aapl, msft = [(await update(ws, operation))["allStocks"] for _ in range(2)]
        assert aapl == {"symbol": "AAPL", "price": 1.0, "sequence": stored.sequence}
        # Nothing was stored for MSFT: its quote, stored as its first event.
        first_msft = await server.app.state.runtime.services.prices.latest("MSFT")
        assert msft == {
            "symbol": "MSFT",
            "price": first_msft.price,
            "sequence": first_msft.sequence,
        }
        # Then every update, of any symbol.
        for symbol, price in (("TSLA", 2.0), ("AAPL", 3.0)):
            live = await publish(server, symbol, price)
            assert (await update(ws, operation))["allStocks"] == {
                "symbol": symbol,
                "price": price,
                "sequence": live.sequence,
            }


@PROTOCOLS
async def test_all_stocks_drops_nothing_of_bursts_across_symbols(
    server: RunningServer, protocol: str
) -> None:
    """Each burst is what one worker tick publishes: one price of every symbol at once."""
    symbols = ("AAPL", "MSFT", "GOOG", "AMZN", "TSLA")
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        await ws.init()
        operation = await ws.subscribe(ALL_STOCKS)
        await updates_of(ws, operation, 2)  # the opening: AAPL and MSFT
        dropped_before = await dropped_prices(server)
        for burst in range(5):
            published = await asyncio.gather(
                *(publish(server, symbol, 10.0 + burst) for symbol in symbols)
            )
            received = await updates_of(ws, operation, len(symbols))
            assert sorted(received, key=itemgetter("symbol")) == sorted(
                (
                    {"symbol": event.symbol, "price": event.price, "sequence": event.sequence}
                    for event in published
                ),
                key=itemgetter("symbol"),
            )
    assert await dropped_prices(server) == dropped_before


async def updates_of(ws: GraphQLWebSocket, operation: str, count: int) -> list[dict[str, Any]]:
    return [(await update(ws, operation))["allStocks"] for _ in range(count)]


async def dropped_prices(server: RunningServer) -> float:
    samples = await scrape(server.client)
    return samples.total("stockql_events_dropped_total", kind="stocks_all")


@PROTOCOLS
async def test_user_notifications_need_a_signed_in_connection(
    server: RunningServer, protocol: str
) -> None:
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        await ws.init()
        operation = await ws.subscribe(NOTIFICATIONS)
        payload = await ws.next_payload(operation)
        assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_watching_another_users_notifications_is_forbidden_except_for_admins(
    server: RunningServer,
) -> None:
    token, _ = await signed_up(server)
    _, other = await signed_up(server)
    async with graphql_ws(server.base_url) as ws:
        await ws.init({"authToken": token})
        operation = await ws.subscribe(NOTIFICATIONS, {"userId": other["id"]})
        payload = await ws.next_payload(operation)
        assert payload["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = await admin_token(server)
    async with graphql_ws(server.base_url) as ws:
        await ws.init({"authToken": admin})
        operation = await ws.subscribe(NOTIFICATIONS, {"userId": other["id"]})
        await subscribed(server.app.state.runtime.redis, user_channel(other["id"]))
        accounts = server.app.state.runtime.services.notifications
        await accounts.account_updated(other["id"], "name")
        notification = (await update(ws, operation))["userNotifications"]
        assert notification["type"] == "ACCOUNT_UPDATE"


@PROTOCOLS
async def test_a_profile_change_reaches_the_users_subscription(
    server: RunningServer, protocol: str
) -> None:
    token, user = await signed_up(server)
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        await ws.init({"authToken": f"Bearer {token}"})
        operation = await ws.subscribe(NOTIFICATIONS)
        await subscribed(server.app.state.runtime.redis, user_channel(user["id"]))
        body = await server.graphql(
            'mutation { updateProfile(input: {name: "Renamed"}) { __typename } }',
            headers=bearer(token),
        )
        assert data(body)["updateProfile"]["__typename"] == "User"
        notification = (await update(ws, operation))["userNotifications"]
        assert notification["type"] == "ACCOUNT_UPDATE"
        assert notification["read"] is False
    listed = data(await server.graphql("{ notifications { id type } }", headers=bearer(token)))
    assert listed["notifications"][0]["id"] == notification["id"]
