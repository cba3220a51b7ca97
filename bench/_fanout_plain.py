"""Price updates over plain websockets, no GraphQL: the baseline server of bench/fanout_bench.py.

    STOCKQL_REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/_fanout_plain.py --port 8001

`/prices/{SYMBOL}` subscribes to the symbol's channel through the project's own event bus
(the same Redis backend and bounded, keep-latest subscribers that stockPrice uses), sends
`{"type":"ready"}` once subscribed, then forwards every message as published (the encoded
PriceUpdated) as a text frame. No snapshot, no replay, no decoding. `/idle/{SYMBOL}` is the
floor under it (bench/subscriber_memory.py): accepted, `{"type":"ready"}` sent, then nothing but
waiting for the client to go away, so it costs only uvicorn, the websockets library and
Starlette per connection. Served by uvicorn with the options `stockql serve` uses, and its
garbage collector thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.adapters.events.bus import open_event_bus
from app.garbage_collection import tune_garbage_collector
from app.health import healthz
from app.settings import Settings
from app.websocket_protocol import StockQLWebSocketProtocol
from domain.events import EventBus, Subscription, stock_channel

READY = '{"type":"ready"}'


async def prices(websocket: WebSocket) -> None:
    bus: EventBus = websocket.app.state.bus
    await websocket.accept()
    channel = stock_channel(websocket.path_params["symbol"].upper())
    async with bus.subscribe(channel, keep_latest_only=True) as subscription:
        await websocket.send_text(READY)
        forwarding = asyncio.create_task(forward(subscription, websocket))
        try:
            # The client sends nothing: this returns when it goes away.
            await websocket.receive()
        finally:
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await forwarding


async def idle(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(READY)
    await websocket.receive()  # returns when the client goes away


async def forward(subscription: Subscription, websocket: WebSocket) -> None:
    async for message in subscription:
        await websocket.send_text(message.decode())


def create_plain_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_event_bus(settings.redis_url) as bus:
            app.state.bus = bus
            yield

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            WebSocketRoute("/prices/{symbol}", prices),
            WebSocketRoute("/idle/{symbol}", idle),
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
