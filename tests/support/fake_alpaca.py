"""A local fake of Alpaca's market data stream (wss://stream.data.alpaca.markets/v2/iex), for
integration and process tests.

Usage::

    async with FakeAlpacaStream() as fake:      # or the `fake_alpaca_stream` fixture
        fake.url                                # "ws://127.0.0.1:PORT/v2/iex"
        await fake.wait_subscribed({"AAPL"})    # the trades the open connection follows
        await fake.send_trades([("AAPL", 189.5, 100, at)])     # one message, subscribers only
        await fake.send_bar("AAPL", start, o, h, l, c, v, n, vw, updated=False)
        await fake.slow_client()                # error 407, then the connection is closed
        await fake.drop()                       # closed without a word, as a restart would
        fake.requests                           # every message a client sent, in order

As Alpaca: [{"T":"success","msg":"connected"}] on connecting; authentication within
`auth_timeout` seconds or error 404 and close; a wrong key or secret gets 402 and close; a
second authenticated connection of the key gets 406 and close; a request before
authentication gets 401; malformed JSON 400; a subscription past `max_symbols` gets 405 and
changes nothing; every (un)subscribe is acknowledged with the whole subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.support.local_server import LocalServer

FAKE_KEY_ID = "fake-alpaca-key-id"
FAKE_SECRET_KEY = "fake-alpaca-secret"
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")


def rfc3339(at: datetime, *, nanoseconds: int = 0) -> str:
    """Alpaca's timestamps: UTC, with nanoseconds when there are any."""
    base = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = at.microsecond * 1000 + nanoseconds
    return f"{base}.{fraction:09d}Z" if fraction else f"{base}Z"


class _Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.authenticated = False
        self.channels: dict[str, set[str]] = {channel: set() for channel in CHANNELS}


class FakeAlpacaStream(LocalServer):
    def __init__(
        self,
        *,
        key_id: str = FAKE_KEY_ID,
        secret_key: str = FAKE_SECRET_KEY,
        max_symbols: int = 30,
        auth_timeout: float = 10.0,
        feed: str = "iex",
    ) -> None:
        super().__init__()
        self.key_id = key_id
        self.secret_key = secret_key
        self.max_symbols = max_symbols
        self.auth_timeout = auth_timeout
        self.feed = feed
        self.requests: list[Any] = []
        self.connections_opened = 0
        self.errors_sent: list[int] = []
        self._clients: dict[web.WebSocketResponse, _Client] = {}
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/{self.feed}"

    @property
    def subscribed(self) -> frozenset[str]:
        """The trades every authenticated connection follows."""
        return frozenset(
            symbol
            for client in self._clients.values()
            if client.authenticated
            for symbol in client.channels["trades"]
        )

    @property
    def authenticated_connections(self) -> int:
        return sum(client.authenticated for client in self._clients.values())

    def routes(self, app: web.Application) -> None:
        app.router.add_get(f"/v2/{self.feed}", self._socket)

    async def closing(self) -> None:
        await self.drop()

    async def wait_subscribed(self, symbols: Iterable[str], *, seconds: float = 5.0) -> None:
        wanted = frozenset(symbols)
        await self._wait(
            lambda: self.authenticated_connections == 1 and self.subscribed == wanted, seconds
        )

    async def wait_connections(self, opened: int, *, seconds: float = 5.0) -> None:
        await self._wait(lambda: self.connections_opened >= opened, seconds)

    async def send_trades(self, trades: Iterable[tuple[str, float, float, datetime]]) -> None:
        """(symbol, price, size, time) each, in one message per subscribed connection."""
        items = [
            {
                "T": "t",
                "S": symbol,
                "i": number,
                "x": "V",
                "p": price,
                "s": size,
                "c": ["@"],
                "t": rfc3339(at, nanoseconds=123),
                "z": "C",
            }
            for number, (symbol, price, size, at) in enumerate(trades, start=1)
        ]
        await self._broadcast("trades", items)

    async def send_bar(
        self,
        symbol: str,
        start: datetime,
        prices: tuple[float, float, float, float],
        volume: float,
        trades: int | None,
        vwap: float | None,
        *,
        updated: bool = False,
    ) -> None:
        """A bar message; without "n" and "vw" when `trades` and `vwap` are None."""
        o, h, low, c = prices
        item: dict[str, object] = {
            "T": "u" if updated else "b",
            "S": symbol,
            "o": o,
            "h": h,
            "l": low,
            "c": c,
            "v": volume,
            "t": rfc3339(start),
        }
        if trades is not None:
            item["n"] = trades
        if vwap is not None:
            item["vw"] = vwap
        await self._broadcast("updatedBars" if updated else "bars", [item])

    async def send_raw(self, text: str) -> None:
        for ws in list(self._clients):
            await ws.send_str(text)

    async def send_error(self, code: int, message: str) -> None:
        for ws in list(self._clients):
            await self._error(ws, code, message)

    async def slow_client(self) -> None:
        """What Alpaca does to a client that cannot keep up: error 407, then it hangs up."""
        for ws in list(self._clients):
            await self._error(ws, 407, "slow client")
            await ws.close()

    async def drop(self) -> None:
        for ws in list(self._clients):
            await ws.close()

    async def _wait(self, ready: Any, seconds: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), seconds)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _broadcast(self, channel: str, items: list[dict[str, Any]]) -> None:
        for ws, client in list(self._clients.items()):
            mine = [item for item in items if item["S"] in client.channels[channel]]
            if client.authenticated and mine:
                await ws.send_str(orjson.dumps(mine).decode())

    async def _error(self, ws: web.WebSocketResponse, code: int, message: str) -> None:
        self.errors_sent.append(code)
        await ws.send_str(orjson.dumps([{"T": "error", "code": code, "msg": message}]).decode())

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        client = _Client(ws)
        self._clients[ws] = client
        self.connections_opened += 1
        await self._notify()
        timer = asyncio.get_running_loop().call_later(
            self.auth_timeout, lambda: asyncio.ensure_future(self._auth_timeout(client))
        )
        try:
            await ws.send_str('[{"T":"success","msg":"connected"}]')
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._request(client, message.data)
        finally:
            timer.cancel()
            self._clients.pop(ws, None)
            await self._notify()
        return ws

    async def _auth_timeout(self, client: _Client) -> None:
        if not client.authenticated and not client.ws.closed:
            with contextlib.suppress(ConnectionError):
                await self._error(client.ws, 404, "auth timeout")
                await client.ws.close()

    async def _request(self, client: _Client, text: str) -> None:
        try:
            request = orjson.loads(text)
            action = request["action"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await self._error(client.ws, 400, "invalid syntax")
            return
        self.requests.append(request)
        if action == "auth":
            await self._authenticate(client, request)
        elif not client.authenticated:
            await self._error(client.ws, 401, "not authenticated")
        elif action in ("subscribe", "unsubscribe"):
            await self._subscribe(client, request, adding=action == "subscribe")
        else:
            await self._error(client.ws, 400, "invalid syntax")

    async def _authenticate(self, client: _Client, request: dict[str, Any]) -> None:
        if client.authenticated:
            await self._error(client.ws, 403, "already authenticated")
        elif (request.get("key"), request.get("secret")) != (self.key_id, self.secret_key):
            await self._error(client.ws, 402, "auth failed")
            await client.ws.close()
        elif self.authenticated_connections:
            await self._error(client.ws, 406, "connection limit exceeded")
            await client.ws.close()
        else:
            client.authenticated = True
            await client.ws.send_str('[{"T":"success","msg":"authenticated"}]')
            await self._notify()

    async def _subscribe(self, client: _Client, request: dict[str, Any], *, adding: bool) -> None:
        changed = {channel: set(symbols) for channel, symbols in client.channels.items()}
        for channel in CHANNELS:
            for symbol in request.get(channel) or ():
                if adding:
                    changed[channel].add(symbol)
                else:
                    changed[channel].discard(symbol)
        if any(len(symbols) > self.max_symbols for symbols in changed.values()):
            await self._error(client.ws, 405, "symbol limit exceeded")
            return
        client.channels = changed
        ack = {"T": "subscription", **{c: sorted(s) for c, s in changed.items()}}
        ack.update(corrections=sorted(changed["trades"]), cancelErrors=sorted(changed["trades"]))
        await client.ws.send_str(orjson.dumps([ack]).decode())
        await self._notify()
