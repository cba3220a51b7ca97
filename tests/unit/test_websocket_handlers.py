"""Both websocket handlers (app/websocket_handlers.py) over a fake websocket, view and context:
connections counted, operations refused once the token is no longer valid, and an open
connection closed with 4401 when its token expires. The real handlers against a real uvicorn
are in tests/api/test_websocket_auth.py and test_logout_api.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.types.unset import UnsetType

from app.metrics import Metrics
from app.websocket_handlers import UNAUTHORIZED, LegacyWSHandler, TransportWSHandler
from domain.errors import DatabaseUnavailable, Unauthenticated
from tests.support.waiting import eventually

CONNECTIONS = "stockql_websocket_connections"


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self) -> AsyncGenerator[int, None]:
        for number in range(3):
            yield number


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription)


class FakeContext:
    """What the handlers use of graphql_schema.context.Context: the token and its check."""

    def __init__(self, token: str | None, *, expires_in: float = 3600.0) -> None:
        self.token = token
        self.token_expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        self.failure: Exception | None = None

    async def check_token(self) -> None:
        if self.failure is not None:
            raise self.failure
        if datetime.now(UTC) >= self.token_expires_at:
            raise Unauthenticated("The token has expired")


class FakeView:
    """What the handlers use of app/graphql_view.py's view."""

    def __init__(self, *, token_check_seconds: float = 30.0) -> None:
        self.metrics = Metrics()
        self.token_check_seconds = token_check_seconds

    async def on_ws_connect(self, context: object) -> UnsetType:
        return UnsetType()

    def connections(self) -> float | None:
        return self.metrics.registry.get_sample_value(CONNECTIONS)


class FakeSocket(AsyncWebSocketAdapter):
    """Messages from the client as queued; what the server sends, recorded."""

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        self.sent: list[Mapping[str, object]] = []
        self.closed: tuple[int, str] | None = None
        self._closing = asyncio.Event()

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        while not self._closing.is_set():
            receiving = asyncio.ensure_future(self.incoming.get())
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait({receiving, closing}, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if not receiving.done():
                receiving.cancel()
                return
            yield receiving.result()

    async def send_json(self, message: Mapping[str, object]) -> None:
        self.sent.append(message)

    async def send_text(self, message: str) -> None:
        raise AssertionError("nothing here is shared by subscribers")

    def send_text_now(self, message: str) -> bool:
        return False

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._closing.set()

    def types(self) -> list[object]:
        return [message["type"] for message in self.sent]


def transport_handler(
    view: FakeView, socket: FakeSocket, context: FakeContext
) -> TransportWSHandler:
    return TransportWSHandler(
        view,  # type: ignore[arg-type]
        socket,
        context,  # type: ignore[arg-type]
        None,
        SCHEMA,
        timedelta(seconds=5),
    )


def legacy_handler(view: FakeView, socket: FakeSocket, context: FakeContext) -> LegacyWSHandler:
    return LegacyWSHandler(
        view,  # type: ignore[arg-type]
        socket,
        context,  # type: ignore[arg-type]
        None,
        SCHEMA,
        False,  # no keep-alive messages
        None,
    )


SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { count }"}}
START = {"id": "1", "type": "start", "payload": {"query": "subscription { count }"}}


async def test_transport_ws_counts_the_connection_and_runs_an_operation() -> None:
    view, context = FakeView(), FakeContext("a-token")
    socket = FakeSocket(view)
    handling = asyncio.create_task(transport_handler(view, socket, context).handle())
    await socket.incoming.put({"type": "connection_init"})
    await socket.incoming.put(SUBSCRIBE)
    await eventually(lambda: "complete" in socket.types())
    assert view.connections() == 1
    assert socket.types() == ["connection_ack", "next", "next", "next", "complete"]
    assert [m["payload"] for m in socket.sent[1:4]] == [{"data": {"count": n}} for n in range(3)]
    await socket.close(1000, "done")
    await handling
    assert view.connections() == 0


@pytest.mark.parametrize("make_handler", [transport_handler, legacy_handler])
async def test_an_operation_after_the_token_was_revoked_closes_the_connection_with_4401(
    make_handler: Any,
) -> None:
    view, context = FakeView(), FakeContext("a-token")
    socket = FakeSocket(view)
    handling = asyncio.create_task(make_handler(view, socket, context).handle())
    await socket.incoming.put({"type": "connection_init"})
    await eventually(lambda: "connection_ack" in socket.types())
    context.failure = Unauthenticated("The token was revoked")
    await socket.incoming.put(SUBSCRIBE if make_handler is transport_handler else START)
    await eventually(lambda: socket.closed is not None)
    assert socket.closed == (UNAUTHORIZED, "The token was revoked")
    assert "next" not in socket.types()
    assert "data" not in socket.types()
    await handling


@pytest.mark.parametrize("make_handler", [transport_handler, legacy_handler])
async def test_an_unverifiable_token_keeps_the_connection_and_runs_the_operation(
    make_handler: Any,
) -> None:
    """The database down is not a reason to sign anybody out: the next check decides."""
    view, context = FakeView(), FakeContext("a-token")
    context.failure = DatabaseUnavailable()
    socket = FakeSocket(view)
    handling = asyncio.create_task(make_handler(view, socket, context).handle())
    await socket.incoming.put({"type": "connection_init"})
    await socket.incoming.put(SUBSCRIBE if make_handler is transport_handler else START)
    await eventually(lambda: "complete" in socket.types())
    assert socket.closed is None
    await socket.close(1000, "done")
    await handling


@pytest.mark.parametrize("make_handler", [transport_handler, legacy_handler])
async def test_an_open_connection_is_closed_with_4401_when_its_token_expires(
    make_handler: Any,
) -> None:
    view, context = FakeView(token_check_seconds=30), FakeContext("a-token", expires_in=0.2)
    socket = FakeSocket(view)
    handling = asyncio.create_task(make_handler(view, socket, context).handle())
    await socket.incoming.put({"type": "connection_init"})
    # Long before the 30 s check: the watch wakes at the expiry itself.
    await eventually(lambda: socket.closed is not None, within=2.0, every=0.01)
    assert socket.closed == (UNAUTHORIZED, "The token has expired")
    await handling
    assert view.connections() == 0


async def test_an_anonymous_connection_has_no_token_to_watch() -> None:
    view, context = FakeView(token_check_seconds=0.05), FakeContext(None)
    context.failure = AssertionError("an anonymous connection's token is never checked")
    socket = FakeSocket(view)
    handling = asyncio.create_task(transport_handler(view, socket, context).handle())
    await socket.incoming.put({"type": "connection_init"})
    await socket.incoming.put(SUBSCRIBE)
    await eventually(lambda: "complete" in socket.types())
    await asyncio.sleep(0.2)  # several check intervals
    assert socket.closed is None
    await socket.close(1000, "done")
    await handling
