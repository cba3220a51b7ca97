"""Graceful shutdown on SIGTERM or SIGINT.

`stockql serve` stops accepting connections, tells every websocket client that the server is
going away (close code 1001, with a reason) so it reconnects elsewhere, lets the HTTP requests
in flight finish (bounded by STOCKQL_SHUTDOWN_TIMEOUT_SECONDS; those still running then are
answered 503), then closes the runtime.
`stockql worker` stops its jobs and gives up its leadership at once (app/leader.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Iterator

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

GOING_AWAY = 1001
GOING_AWAY_REASON = "server shutting down"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long clients get to receive the close frame and their subscriptions to wind down; a
# client that reads nothing meanwhile is cut off by uvicorn's own shutdown afterwards.
WEBSOCKETS_CLOSE_WITHIN = 2.0


class _OpenWebSocket:
    """One websocket's outgoing channel, which the server may close from outside the app."""

    __slots__ = ("_finished", "_send", "accepted", "closed")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.accepted = False
        self.closed = False
        # Made only when the shutdown waits for it: an asyncio.Event per connection would
        # cost ~0.7 KiB each, 7 MiB at 10,000 subscribers (issue 17 point 4).
        self._finished: asyncio.Future[None] | None = None

    def finish(self) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    def finished(self) -> asyncio.Future[None]:
        """Done when the app is done with this websocket; call it while it is still open."""
        if self._finished is None:
            self._finished = asyncio.get_running_loop().create_future()
        return self._finished

    async def send(self, message: Message) -> None:
        if self.closed:
            # Told to go away: what the app still sends (a last subscription event, its own
            # close) has nowhere to go, and uvicorn would refuse it with an error.
            return
        if message["type"] == "websocket.accept":
            self.accepted = True
        elif message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)

    async def go_away(self, reason: str) -> None:
        if not self.accepted or self.closed:
            return
        self.closed = True
        # uvicorn answers the app's pending receive() with a disconnect: the GraphQL handler
        # then ends its subscriptions as if the client had left.
        await self._send({"type": "websocket.close", "code": GOING_AWAY, "reason": reason})


class OpenWebSockets:
    """The websockets open through the app it wraps (as ASGI middleware), to close at shutdown."""

    def __init__(self) -> None:
        self._open: set[_OpenWebSocket] = set()

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def tracking(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "websocket":
                await app(scope, receive, send)
                return
            connection = _OpenWebSocket(send)
            self._open.add(connection)
            try:
                await app(scope, receive, connection.send)
            finally:
                self._open.discard(connection)
                connection.finish()

        return tracking

    async def close_all(self, reason: str, *, within: float) -> int:
        """Close every accepted websocket that is still open with 1001 and wait (at most
        `within` seconds) until the app is done with them. Returns how many were closed."""
        connections = [c for c in self._open if c.accepted and not c.closed]
        finished = [connection.finished() for connection in connections]
        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*(connection.go_away(reason) for connection in connections))
                await asyncio.gather(*(asyncio.shield(done) for done in finished))
        except TimeoutError:
            left = sum(not done.done() for done in finished)
            log.warning("%d websockets were still open %.1f s after going away", left, within)
        return len(connections)


class InFlightRequests:
    """HTTP requests that the shutdown timeout cuts off (uvicorn cancels their tasks) answer
    503 with Retry-After, which tells a client to try again (on another replica), instead of
    uvicorn's 500 and a logged traceback. `stopping` is set by GracefulServer."""

    def __init__(self) -> None:
        self.stopping = False

    def middleware(self, app: ASGIApp) -> ASGIApp:
        def answering(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            if scope["type"] != "http":
                # Handed on, not awaited: no frame of ours for a websocket's whole life.
                return app(scope, receive, send)
            return answering_http(scope, receive, send)

        async def answering_http(scope: Scope, receive: Receive, send: Send) -> None:
            started = False

            async def sending(message: Message) -> None:
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            try:
                await app(scope, receive, sending)
            except asyncio.CancelledError:
                if not self.stopping or started:
                    raise
                # Cancelled to end it at shutdown: once answered, the task ends here.
                await send(_SHUTTING_DOWN_START)
                await send(_SHUTTING_DOWN_BODY)

        return answering


_SHUTTING_DOWN_START: Message = {
    "type": "http.response.start",
    "status": 503,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ],
}
_SHUTTING_DOWN_BODY: Message = {"type": "http.response.body", "body": b"server shutting down"}


class GracefulServer(uvicorn.Server):
    """uvicorn's server, closing websockets with 1001 and a reason before its own shutdown
    (which would close them with 1012, service restart, and no reason), and exiting with
    status 0 once a stop signal has been handled."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        websockets: OpenWebSockets,
        requests: InFlightRequests | None = None,
    ) -> None:
        super().__init__(config)
        self._websockets = websockets
        self._requests = requests

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._requests is not None:
            self._requests.stopping = True
        # Refuse new connections first, so that none opens while the open ones are closed;
        # uvicorn's shutdown closes the listeners again, which does nothing the second time.
        for server in self.servers:
            server.close()
        closed = await self._websockets.close_all(GOING_AWAY_REASON, within=WEBSOCKETS_CLOSE_WITHIN)
        if closed:
            log.info("closed %d websockets: %s", closed, GOING_AWAY_REASON)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn raises the signal again once it has shut down, for the program embedding it:
        # here the shutdown is that program's whole answer, and the re-raised SIGTERM would end
        # the process by the signal (status 143) instead of normally with 0.
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


async def until_stop_signal() -> None:
    """Return at the first SIGTERM or SIGINT (then the default handlers are back: a second
    signal ends the process at once)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
