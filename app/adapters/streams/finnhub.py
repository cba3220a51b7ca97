"""Finnhub's trade websocket (https://finnhub.io/docs/api/websocket-trades) as a StreamFeed.

Protocol: connect to wss://ws.finnhub.io?token=KEY (a bad key is refused in the handshake
with HTTP 401; a second connection of the same key with 429), then send
{"type":"subscribe","symbol":"AAPL"} or "unsubscribe" per symbol; nothing is acknowledged.
The server sends {"type":"trade","data":[{"s","p","t" (Unix ms),"v","c"}]}, a
{"type":"ping"} now and then to keep idle connections open (no answer is expected), and
{"type":"error","msg":...} for a refused request. Free keys follow 50 symbols at most.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import aiohttp
import orjson

from app.adapters.streams._websocket_feed import FeedOptions, WebSocketFeed, unreadable
from app.metrics import Metrics
from domain.streaming import StreamConsumer, StreamProblem, Trade

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://ws.finnhub.io"
FREE_PLAN = FeedOptions(max_symbols=50)


class FinnhubFeed(WebSocketFeed):
    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api_key: str,
        url: str = DEFAULT_URL,
        options: FeedOptions = FREE_PLAN,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(
            name="finnhub",
            session=session,
            options=options,
            metrics=metrics,
        )
        self._api_key = api_key
        self._url = url
        self.pings = 0

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        try:
            return await self._session.ws_connect(
                self._url,
                params={"token": self._api_key},
                heartbeat=self._options.heartbeat_seconds,
                timeout=aiohttp.ClientWSTimeout(ws_close=self.auth_timeout_seconds),
            )
        except aiohttp.WSServerHandshakeError as error:
            # The status only: the error's text holds the URL, and so the key.
            if error.status == 401:
                raise StreamProblem(
                    "finnhub refused the API key (HTTP 401): check STOCKQL_FINNHUB_API_KEY",
                    code="auth",
                    fatal=True,
                ) from None
            if error.status == 429:
                raise StreamProblem(
                    "finnhub refused a second connection for this key (HTTP 429)",
                    code="connection_limit",
                ) from None
            raise StreamProblem(
                f"finnhub refused the websocket (HTTP {error.status})", code="disconnected"
            ) from None

    async def _send_change(
        self, ws: aiohttp.ClientWebSocketResponse, added: list[str], removed: list[str]
    ) -> None:
        for symbol in removed:
            await ws.send_str(_request("unsubscribe", symbol))
        for symbol in added:
            await ws.send_str(_request("subscribe", symbol))

    async def _receive(self, text: str, consumer: StreamConsumer) -> None:
        try:
            message = orjson.loads(text)
            kind = message.get("type")
        except (orjson.JSONDecodeError, AttributeError):
            await consumer.on_problem(unreadable(self.name, text))
            return
        if kind == "trade":
            trades = _trades(message.get("data"))
            if trades is None:
                await consumer.on_problem(unreadable(self.name, text))
            elif trades:
                await consumer.on_trades(trades)
        elif kind == "ping":
            self.pings += 1
        elif kind == "error":
            detail = str(message.get("msg", ""))[:200]
            code = _error_code(detail)
            await consumer.on_problem(StreamProblem(f"finnhub error: {detail}", code=code))
        else:
            log.debug("finnhub message of type %r ignored", kind)


def _error_code(detail: str) -> str:
    """Finnhub's error messages carry no code. "Invalid symbol" (with the symbol since 2021,
    github.com/finnhubio/Finnhub-API/issues/20) is documented by its users; the wording of a
    refusal past the plan's symbols is not, so it is matched loosely (and the worker refuses
    symbols past FREE_PLAN itself, before Finnhub would)."""
    lowered = detail.lower()
    if "invalid symbol" in lowered:
        return "unknown_symbol"
    return "symbol_limit" if "too many" in lowered or "limit" in lowered else "error"


def _request(action: str, symbol: str) -> str:
    return orjson.dumps({"type": action, "symbol": symbol}).decode()


def _trades(data: object) -> list[Trade] | None:
    """The trades of a "trade" message, or None when one of them cannot be read."""
    if not isinstance(data, list):
        return None
    trades = []
    try:
        for item in data:
            trades.append(
                Trade(
                    symbol=str(item["s"]),
                    price=float(item["p"]),
                    size=float(item.get("v") or 0.0),
                    at=datetime.fromtimestamp(int(item["t"]) / 1000, UTC),
                )
            )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    return trades
