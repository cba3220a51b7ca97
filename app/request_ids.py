"""ASGI middleware giving every HTTP request a request id and every websocket a connection id,
bound in structlog's context variables for all that is logged while it is handled."""

from __future__ import annotations

import itertools
import os
import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

REQUEST_ID_HEADER = "x-request-id"
# A client's own id is kept when it looks like one (a proxy's, a trace id); anything else in
# the header is replaced, so that no client writes arbitrary text into the logs.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATE_KEY = "request_id"


class _Ids:
    """32 hex digits: a random prefix per process and a counter. Unique as uuid4's are across
    replicas and workers (the prefix is drawn again in a forked child), without drawing 16
    random bytes and building a UUID for each request and websocket (issue 17 point 4).
    Not secret: an id names a request in the logs, it grants nothing."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_IDS = _Ids()
os.register_at_fork(after_in_child=_IDS.renew)


def new_id() -> str:
    return _IDS.next()


def request_id_of(connection: HTTPConnection) -> str:
    """The id RequestIds gave this request or websocket (a new one if it did not run)."""
    request_id: str | None = connection.scope.get("state", {}).get(_STATE_KEY)
    return request_id or new_id()


class RequestIds:
    """HTTP: the client's `x-request-id` when it is a plausible id, else a new one; bound as
    `request_id` and sent back in the `x-request-id` response header. Websocket: a new id
    bound as `connection_id` (its operations add `operation_id`, see websocket_handlers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            sent = HTTPConnection(scope).headers.get(REQUEST_ID_HEADER, "")
            bound_id = sent if _CLIENT_ID.fullmatch(sent) else new_id()
            name, send = "request_id", _sending_id(send, bound_id)
        elif scope["type"] == "websocket":
            name, bound_id = "connection_id", new_id()
        else:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[_STATE_KEY] = bound_id
        # Not bound_contextvars: it copies every bound variable into a dict and keeps a
        # generator for as long as the request or websocket is handled.
        tokens = bind_contextvars(**{name: bound_id})
        try:
            await self.app(scope, receive, send)
        finally:
            reset_contextvars(**tokens)


def _sending_id(send: Send, request_id: str) -> Send:
    """`send`, with `request_id` in the response's `x-request-id` header."""

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
        await send(message)

    return send_with_id
