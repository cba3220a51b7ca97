"""Alpaca's market data stream (https://docs.alpaca.markets/docs/streaming-market-data) as a
StreamFeed: trades, minute bars and updated bars of US stocks.

Protocol (JSON; every server message is an array of objects with a type "T"): on connecting
the server sends [{"T":"success","msg":"connected"}]; the client must authenticate within 10
seconds with {"action":"auth","key":..,"secret":..} and gets [{"T":"success",
"msg":"authenticated"}]. {"action":"subscribe"|"unsubscribe","trades":[..],"bars":[..],
"updatedBars":[..]} is acknowledged by [{"T":"subscription","trades":[..],...}] listing the
whole subscription after the change. Data: trades {"T":"t","S","p","s","t" (RFC 3339, up
to nanoseconds),...}, minute bars {"T":"b","S","o","h","l","c","v","t","n","vw"} sent when
a minute closes, and {"T":"u",...} bars updated by late trades. Errors are
[{"T":"error","code":N,"msg":..}]; see ERRORS. The free IEX feed follows 30 symbols at most
and allows one connection per key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from app.adapters.streams._websocket_feed import FeedOptions, WebSocketFeed, unreadable
from app.metrics import Metrics
from domain.streaming import MinuteBar, StreamConsumer, StreamProblem, Trade

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://stream.data.alpaca.markets/v2/iex"
FREE_PLAN = FeedOptions(max_symbols=30)


@dataclass(frozen=True, slots=True)
class _Error:
    """What an error code means: our short code, and whether reconnecting cannot help."""

    code: str
    meaning: str
    fatal: bool = False


ERRORS = {
    400: _Error("invalid_syntax", "a message we sent was not understood"),
    401: _Error("not_authenticated", "a request came before authentication"),
    402: _Error("auth", "the key was refused: check STOCKQL_ALPACA_KEY_ID and _SECRET_KEY", True),
    403: _Error("already_authenticated", "authenticated twice"),
    404: _Error("auth_timeout", "no authentication within the time limit"),
    405: _Error("symbol_limit", "more symbols than the plan allows"),
    406: _Error("connection_limit", "another connection of this key is open"),
    407: _Error("slow_client", "we read too slowly and the server dropped us"),
    409: _Error("insufficient_subscription", "the plan does not include this feed", True),
    410: _Error("invalid_action", "this feed does not offer that subscription"),
    500: _Error("internal_error", "the provider failed"),
}
_UNKNOWN_ERROR = _Error("error", "an error the feed does not know")


def problem_of(message: dict[str, Any]) -> StreamProblem:
    """The StreamProblem an error message means (the message text is Alpaca's, no key)."""
    number = message.get("code")
    known = ERRORS.get(number, _UNKNOWN_ERROR) if isinstance(number, int) else _UNKNOWN_ERROR
    return StreamProblem(
        f"alpaca error {number} {str(message.get('msg', ''))[:100]!r}: {known.meaning}",
        code=known.code,
        fatal=known.fatal,
    )


class AlpacaFeed(WebSocketFeed):
    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        key_id: str,
        secret_key: str,
        url: str = DEFAULT_URL,
        options: FeedOptions = FREE_PLAN,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(
            name="alpaca",
            session=session,
            options=options,
            metrics=metrics,
        )
        self._key_id = key_id
        self._secret_key = secret_key
        self._url = url
        # The trades the server last acknowledged, whatever we asked for.
        self.acknowledged: frozenset[str] = frozenset()

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        try:
            return await self._session.ws_connect(
                self._url, heartbeat=self._options.heartbeat_seconds
            )
        except aiohttp.WSServerHandshakeError as error:
            raise StreamProblem(
                f"alpaca refused the websocket (HTTP {error.status})", code="disconnected"
            ) from None

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.acknowledged = frozenset()
        await self._expect(ws, "connected")
        auth = {"action": "auth", "key": self._key_id, "secret": self._secret_key}
        await ws.send_str(orjson.dumps(auth).decode())
        await self._expect(ws, "authenticated")

    async def _expect(self, ws: aiohttp.ClientWebSocketResponse, success: str) -> None:
        """Read until the success message `success`; an error message raises its problem."""
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise StreamProblem(
                    f"alpaca closed the connection before {success!r}", code="disconnected"
                )
            self._count_message()
            try:
                items = _items(message.data)
            except ValueError:
                raise unreadable(self.name, message.data) from None
            for item in items:
                if item.get("T") == "error":
                    raise problem_of(item)
                if item.get("T") == "success" and item.get("msg") == success:
                    return

    async def _send_change(
        self, ws: aiohttp.ClientWebSocketResponse, added: list[str], removed: list[str]
    ) -> None:
        for action, symbols in (("unsubscribe", removed), ("subscribe", added)):
            if symbols:
                request = {"action": action, "trades": symbols, "bars": symbols}
                request["updatedBars"] = symbols
                await ws.send_str(orjson.dumps(request).decode())

    async def _receive(self, text: str, consumer: StreamConsumer) -> None:
        try:
            items = _items(text)
        except ValueError:
            await consumer.on_problem(unreadable(self.name, text))
            return
        trades: list[Trade] = []
        for item in items:
            kind = item.get("T")
            if kind == "subscription":
                self._acknowledge(item)
            elif kind == "error":
                await self._error(item, consumer)
            elif kind in ("t", "b", "u"):
                try:
                    parsed = _trade(item) if kind == "t" else _bar(item)
                except (KeyError, TypeError, ValueError):
                    await consumer.on_problem(unreadable(self.name, text))
                    continue
                if isinstance(parsed, Trade):
                    trades.append(parsed)
                else:
                    await consumer.on_bar(parsed)
        if trades:
            await consumer.on_trades(trades)

    def _acknowledge(self, item: dict[str, Any]) -> None:
        self.acknowledged = frozenset(item.get("trades") or ())
        refused = self.subscribed - self.acknowledged
        if refused:
            log.warning("alpaca did not subscribe %s", ", ".join(sorted(refused)))
        # The next change is computed from what the server holds.
        self.subscribed = self.acknowledged

    async def _error(self, item: dict[str, Any], consumer: StreamConsumer) -> None:
        problem = problem_of(item)
        if problem.code == "symbol_limit":
            # The whole request was refused: the server holds what it acknowledged last.
            self.subscribed = self.acknowledged
        if problem.fatal:
            raise problem
        await consumer.on_problem(problem)


def _items(text: str) -> list[dict[str, Any]]:
    data = orjson.loads(text)  # a JSONDecodeError is a ValueError
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("not a list of objects")
    return data


def _trade(item: dict[str, Any]) -> Trade:
    return Trade(str(item["S"]), float(item["p"]), float(item["s"]), _time(item["t"]))


def _bar(item: dict[str, Any]) -> MinuteBar:
    # A bar without "n" or "vw" has no known trade count or VWAP: None, not 0 or the close.
    trades, vwap = item.get("n"), item.get("vw")
    return MinuteBar(
        symbol=str(item["S"]),
        start=_time(item["t"]),
        open=float(item["o"]),
        high=float(item["h"]),
        low=float(item["l"]),
        close=float(item["c"]),
        volume=float(item["v"]),
        trades=None if trades is None else int(trades),
        vwap=None if vwap is None else float(vwap),
    )


def _time(text: object) -> datetime:
    """RFC 3339 in UTC ("2021-02-22T15:51:44.208123456Z"): Python keeps microseconds."""
    at = datetime.fromisoformat(str(text))
    if at.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    return at
