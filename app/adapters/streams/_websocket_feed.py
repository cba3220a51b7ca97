"""What the Alpaca and Finnhub feeds share: one aiohttp websocket, reconnected with backoff
and jitter, resubscribed after each reconnect, and a subscription changed at run time by
sending only the difference (no reconnect).

A subclass says how to open and authenticate the connection, how to (un)subscribe, and how
to read one text message. The connection is kept by `run`; `follow` may be called from any
task at any time.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import random
from dataclasses import dataclass

import aiohttp

from app.metrics import Metrics
from domain.streaming import StreamConsumer, StreamProblem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits before reconnecting: doubling from `first_seconds` up to `max_seconds`, each a
    random part of that (full jitter, so many clients dropped at once do not return at once)."""

    first_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number `attempt` (0 for the first)."""
        ceiling = min(self.max_seconds, self.first_seconds * 2 ** min(attempt, 30))
        return random.uniform(ceiling / 2, ceiling)


class SymbolLimitExceeded(StreamProblem):
    def __init__(self, provider: str, asked: int, limit: int) -> None:
        super().__init__(
            f"{provider} streams at most {limit} symbols on one connection, not {asked}: "
            "track fewer symbols (STOCKQL_SYMBOLS, STOCKQL_MAX_LIVE_SYMBOLS) or raise the "
            "plan's limit",
            code="symbol_limit",
        )


def unreadable(provider: str, text: str) -> StreamProblem:
    return StreamProblem(
        f"{provider} sent a message that cannot be read: {text[:100]!r}", code="bad_message"
    )


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """How a feed connects: `max_symbols` on one connection (None: no limit of ours),
    the wait for authentication, the websocket ping interval (a dead connection is noticed
    within about that long), and the reconnect backoff."""

    max_symbols: int | None = None
    auth_timeout_seconds: float = 10.0
    heartbeat_seconds: float = 30.0
    backoff: Backoff = Backoff()


class WebSocketFeed(abc.ABC):
    """A StreamFeed over one websocket connection (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        session: aiohttp.ClientSession,
        options: FeedOptions,
        metrics: Metrics | None = None,
    ) -> None:
        self._name = name
        self._session = session
        self._options = options
        self._max_symbols = options.max_symbols
        self._backoff = options.backoff
        self.auth_timeout_seconds = options.auth_timeout_seconds
        self._metrics = metrics
        self._wanted: frozenset[str] = frozenset()
        # What the open connection is subscribed to (as sent); empty while disconnected.
        self.subscribed: frozenset[str] = frozenset()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        # Held while the subscription is changed, so two changes never interleave.
        self._changing = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_symbols(self) -> int | None:
        return self._max_symbols

    async def follow(self, symbols: frozenset[str]) -> None:
        if self._max_symbols is not None and len(symbols) > self._max_symbols:
            raise SymbolLimitExceeded(self._name, len(symbols), self._max_symbols)
        self._wanted = frozenset(symbols)
        async with self._changing:
            ws = self._ws
            if ws is not None and not ws.closed:
                await self._change(ws, self._wanted)

    async def run(self, consumer: StreamConsumer) -> None:
        attempt = 0
        reconnected = False
        while True:
            try:
                problem = await self._connection(consumer, reconnected=reconnected)
                attempt = 0  # authenticated and subscribed: the next drop starts afresh
            except StreamProblem as error:
                problem = error
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                problem = StreamProblem(
                    f"{self._name} connection failed: {type(error).__name__}", code="disconnected"
                )
            finally:
                self._ws = None
                self.subscribed = frozenset()
            await consumer.on_problem(problem)
            if problem.fatal:
                return
            delay = self._backoff.delay(attempt)
            attempt += 1
            log.info("%s stream reconnects in %.1f s", self._name, delay)
            await asyncio.sleep(delay)
            reconnected = True
            if self._metrics is not None:
                self._metrics.stream_reconnects.labels(self._name).inc()

    async def _connection(self, consumer: StreamConsumer, *, reconnected: bool) -> StreamProblem:
        """One connection's life: open, authenticate, subscribe, read until it ends. Returns
        why it ended (or raises StreamProblem)."""
        async with await self._open() as ws:
            await asyncio.wait_for(self._authenticate(ws), self.auth_timeout_seconds)
            async with self._changing:
                await self._change(ws, self._wanted)
                self._ws = ws
            await consumer.on_connected(self.subscribed, reconnected=reconnected)
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._count_message()
                    await self._receive(message.data, consumer)
                    # Reading buffered messages never waits: let the publisher and the
                    # flush run between two, or a fast feed starves them.
                    await asyncio.sleep(0)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    break
            code = ws.close_code
        return StreamProblem(
            f"{self._name} closed the connection (websocket code {code})", code="disconnected"
        )

    def _count_message(self) -> None:
        if self._metrics is not None:
            self._metrics.stream_messages.labels(self._name).inc()

    async def _change(self, ws: aiohttp.ClientWebSocketResponse, wanted: frozenset[str]) -> None:
        added, removed = wanted - self.subscribed, self.subscribed - wanted
        if added or removed:
            await self._send_change(ws, sorted(added), sorted(removed))
            self.subscribed = wanted

    @abc.abstractmethod
    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        """Open the websocket (raises aiohttp.ClientError, or StreamProblem for a refused key)."""

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:  # noqa: ARG002
        """Everything up to being allowed to subscribe; raises StreamProblem on refusal.
        Nothing by default: a key sent with the handshake is checked by the handshake."""
        return None

    @abc.abstractmethod
    async def _send_change(
        self, ws: aiohttp.ClientWebSocketResponse, added: list[str], removed: list[str]
    ) -> None:
        """Subscribe to `added` and unsubscribe from `removed` on the open connection."""

    @abc.abstractmethod
    async def _receive(self, text: str, consumer: StreamConsumer) -> None:
        """Handle one text message; raises StreamProblem when the connection must end."""
