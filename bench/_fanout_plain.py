"""Price updates over plain websockets, no GraphQL: the baseline server of bench/fanout_bench.py.

    STOCKQL_REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/_fanout_plain.py --port 8001

`/prices/{SYMBOL}` subscribes to the symbol's channel through the project's own event bus
(the same Redis backend and bounded, keep-latest subscribers that stockPrice uses), sends
`{"type":"ready"}` once subscribed, then forwards every message as published (the encoded
PriceUpdated) as a text frame. No snapshot, no replay, no decoding. `/idle/{SYMBOL}` is the
floor under it (bench/subscriber_memory.py): accepted, `{"type":"ready"}` sent, then nothing but
waiting for the client to go away, so it costs only uvicorn, the websockets library and
Starlette per connection. `/protocol` is what graphql-transport-ws costs with no GraphQL
behind it, the protocol's floor under `stockPrice`: the subprotocol negotiated,
connection_init answered with connection_ack, the `subscribe` message parsed for its
`symbol` variable, the channel subscribed, the symbol's latest event read from the project's
Redis price feed (the batched reads stockPrice's snapshot makes; a symbol with no stored
event gets one at start-up) and sent as a `next` with the fields the bench asks for, then every
published message wrapped in a `next`. No validation, no errors, no `complete`: the bench's
client sends nothing else. Served by uvicorn with the options `stockql serve` uses, and its
garbage collector thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import orjson
import uvicorn
from redis import asyncio as aioredis
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.adapters.events.bus import open_event_bus
from app.adapters.events.price_feed import RedisPriceFeed
from app.garbage_collection import tune_garbage_collector
from app.health import healthz
from app.settings import Settings
from app.websocket_protocol import StockQLWebSocketProtocol
from domain.events import EventBus, PriceUpdated, Subscription, stock_channel
from domain.price_codec import decode_price

READY = '{"type":"ready"}'
SUBPROTOCOL = "graphql-transport-ws"


async def prices(websocket: WebSocket) -> None:
    bus: EventBus = websocket.app.state.bus
    await websocket.accept()
    channel = stock_channel(websocket.path_params["symbol"].upper())
    async with bus.subscribe(channel, keep_latest_only=True) as subscription:
        await websocket.send_text(READY)
        await forward_until_gone(subscription, websocket, bytes.decode)


async def idle(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(READY)
    await websocket.receive()  # returns when the client goes away


async def protocol(websocket: WebSocket) -> None:
    bus: EventBus = websocket.app.state.bus
    feed: RedisPriceFeed = websocket.app.state.feed
    await websocket.accept(subprotocol=SUBPROTOCOL)
    if (await websocket.receive_json()).get("type") != "connection_init":
        await websocket.close(4400)
        return
    await websocket.send_text('{"type":"connection_ack"}')
    subscribe = orjson.loads(await websocket.receive_text())
    operation_id = subscribe["id"]
    symbol = subscribe["payload"]["variables"]["symbol"].upper()
    async with bus.subscribe(stock_channel(symbol), keep_latest_only=True) as subscription:
        latest = await feed.latest(symbol)
        if latest is not None:
            await websocket.send_text(next_message(operation_id, latest))
        await forward_until_gone(
            subscription,
            websocket,
            lambda message: next_message(operation_id, decode_price(message)),
        )


def next_message(operation_id: str, event: PriceUpdated) -> str:
    fields = {
        "symbol": event.symbol,
        "price": event.price,
        "volume": event.volume,
        "change": event.change,
        "changePercent": event.change_percent,
        "timestamp": event.timestamp,
        "sequence": event.sequence,
    }
    message = {"id": operation_id, "type": "next", "payload": {"data": {"stockPrice": fields}}}
    return orjson.dumps(message).decode()


async def forward_until_gone(
    subscription: Subscription, websocket: WebSocket, text_of: Callable[[bytes], str]
) -> None:
    """Send each message as `text_of` makes it until the client goes away (it sends nothing
    more, so its next receive returns only then)."""
    forwarding = asyncio.create_task(forward(subscription, websocket, text_of))
    try:
        await websocket.receive()
    finally:
        forwarding.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await forwarding


async def forward(
    subscription: Subscription, websocket: WebSocket, text_of: Callable[[bytes], str]
) -> None:
    async for message in subscription:
        await websocket.send_text(text_of(message))


def create_plain_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = aioredis.Redis.from_url(settings.redis_url)
        try:
            async with open_event_bus(settings.redis_url) as bus:
                app.state.bus = bus
                app.state.feed = feed = RedisPriceFeed(redis, bus)
                now = datetime.now(UTC)
                for symbol in settings.symbols:
                    if await feed.latest(symbol) is None:
                        await feed.append(PriceUpdated(symbol, 100.0, now, 1000.0, 0.5, 0.5))
                yield
        finally:
            await redis.aclose()

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            WebSocketRoute("/prices/{symbol}", prices),
            WebSocketRoute("/idle/{symbol}", idle),
            WebSocketRoute("/protocol", protocol),
        ],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Plain websocket price server for the bench.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--ws-protocol",
        choices=("uvicorn", "stockql"),
        default="uvicorn",
        help="uvicorn's websockets-sansio, or app/websocket_protocol.py's subclass of it",
    )
    arguments = parser.parse_args()
    port = arguments.port
    settings = Settings()
    tune_garbage_collector(settings.gc_young_threshold)  # as `stockql serve` does
    uvicorn.run(
        create_plain_app(settings),
        host="127.0.0.1",
        port=port,
        log_level=settings.log_level,
        ws=StockQLWebSocketProtocol if arguments.ws_protocol == "stockql" else "websockets-sansio",
    )
