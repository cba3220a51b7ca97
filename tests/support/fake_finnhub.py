"""A local fake of Finnhub's trade websocket (wss://ws.finnhub.io), for integration tests.

Usage::

    async with FakeFinnhub() as fake:           # or the `fake_finnhub` fixture
        fake.url                                # "ws://127.0.0.1:PORT/"
        await fake.wait_subscribed({"AAPL"})    # what the open connection follows now
        await fake.send_trades([("AAPL", 101.5, 10, at_ms)])   # only to subscribers of AAPL
        await fake.ping()                       # {"type":"ping"}
        await fake.error("Subscribing to too many symbols")
        await fake.drop()                       # close every connection, as a restart would
        fake.requests                           # every subscribe/unsubscribe, in order
        fake.connections_opened

As Finnhub: the key is the `token` query parameter, a wrong one is refused in the handshake
with HTTP 401 and a second connection of the same key with 429; subscriptions are not
acknowledged; a subscription past `max_symbols` is answered with an error message and not
made. Trades are sent as {"type":"trade","data":[{"s","p","t","v","c"}]}.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.support.local_server import LocalServer

FAKE_FINNHUB_KEY = "fake-finnhub-key"
TOO_MANY_SYMBOLS = "Subscribing to too many symbols"


class FakeFinnhub(LocalServer):
    def __init__(self, *, api_key: str = FAKE_FINNHUB_KEY, max_symbols: int = 50) -> None:
        super().__init__()
        self.api_key = api_key
        self.max_symbols = max_symbols
        self.requests: list[dict[str, Any]] = []
        self.connections_opened = 0
        self.refused: list[int] = []
        self._sockets: dict[web.WebSocketResponse, set[str]] = {}
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def subscribed(self) -> frozenset[str]:
        """The symbols the open connections follow."""
        return frozenset(symbol for symbols in self._sockets.values() for symbol in symbols)

    @property
    def open_connections(self) -> int:
        return len(self._sockets)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._socket)

    async def closing(self) -> None:
        await self.drop()

    async def wait_subscribed(self, symbols: Iterable[str], *, seconds: float = 5.0) -> None:
        """Until the open connection follows exactly `symbols`."""
        wanted = frozenset(symbols)
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: self.open_connections == 1 and self.subscribed == wanted
                ),
                seconds,
            )

    async def wait_connections(self, opened: int, *, seconds: float = 5.0) -> None:
        """Until `opened` connections were accepted in all."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self.connections_opened >= opened), seconds
            )

    async def send_trades(self, trades: Iterable[tuple[str, float, float, int]]) -> None:
        """(symbol, price, volume, Unix ms) each; one message per connection, with the
        trades of the symbols it follows."""
        trades = list(trades)
        for ws, symbols in list(self._sockets.items()):
            data = [
                {"s": s, "p": p, "t": t, "v": v, "c": None} for s, p, v, t in trades if s in symbols
            ]
            if data:
                await ws.send_str(orjson.dumps({"data": data, "type": "trade"}).decode())

    async def send_raw(self, text: str) -> None:
        for ws in list(self._sockets):
            await ws.send_str(text)

    async def ping(self) -> None:
        await self.send_raw('{"type":"ping"}')

    async def error(self, message: str) -> None:
        await self.send_raw(orjson.dumps({"type": "error", "msg": message}).decode())

    async def drop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("token") != self.api_key:
            self.refused.append(401)
            return web.Response(status=401, text="Invalid API key")
        if self._sockets:
            self.refused.append(429)
            return web.Response(status=429, text="Too many connections")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with self._changed:
            self._sockets[ws] = set()
            self.connections_opened += 1
            self._changed.notify_all()
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._request(ws, orjson.loads(message.data))
        finally:
            async with self._changed:
                self._sockets.pop(ws, None)
                self._changed.notify_all()
        return ws

    async def _request(self, ws: web.WebSocketResponse, request: dict[str, Any]) -> None:
        self.requests.append(request)
        symbols = self._sockets[ws]
        symbol = str(request.get("symbol", ""))
        if request.get("type") == "subscribe":
            if symbol not in symbols and len(symbols) >= self.max_symbols:
                await ws.send_str(orjson.dumps({"type": "error", "msg": TOO_MANY_SYMBOLS}).decode())
                return
            symbols.add(symbol)
        elif request.get("type") == "unsubscribe":
            symbols.discard(symbol)
        async with self._changed:
            self._changed.notify_all()
