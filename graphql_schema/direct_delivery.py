"""Live subscription events written straight to the websocket, each payload encoded once.

A price event reaches a hundred subscribers of its symbol at once. Through the general path,
each of them runs graphql-core's event mapping, strawberry's result stream and extension
hooks, builds its `next` message and encodes it to JSON: all to send the same bytes with
another operation id. For payload types marked `@shared_by_subscribers` the resolvers offer
each event here first (`send_directly`): while a websocket operation is running (its handler
opened a `DirectOutput`) and the operation's executor has shown what the document asks of
such payloads, the event's payload is executed and encoded once for every subscriber asking
the same (graphql_schema/execution.py) and written inside this operation's own message.

The first event of every subscription (the snapshot, or the first replayed one) takes the
general path, which shows the operation's executor (see `subscription_executor`); an event
that cannot be shared (an error, an awaitable field) takes it too, so errors are reported
exactly as always. Writes happen in the operation's task, in order with what strawberry
sends; strawberry still cancels the task when the operation or the connection ends.
Per-result extension hooks (`on_stream_result`, `get_results`) do not run for events written
here: the schema's extensions have none that matter for a subscription event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import orjson
from strawberry.http.exceptions import WebSocketDisconnected

from graphql_schema.execution import (
    encoded_event_result,
    subscription_executor,
    subscription_executor_scope,
)


class DirectOutput:
    """One websocket operation's messages, written around a shared payload: `prefix` +
    payload + `}`. `is_open` tells whether the operation may still send."""

    def __init__(
        self,
        *,
        prefix: str,
        write: Callable[[str], Awaitable[None]],
        is_open: Callable[[], bool],
    ) -> None:
        self._prefix = prefix
        self._write = write
        self._is_open = is_open
        self._disconnected = False

    async def send(self, payload: object) -> bool:
        """Write `payload`'s message; False when it has to take the general path instead."""
        executor = subscription_executor()
        if executor is None:
            return False
        encoded = encoded_event_result(executor, payload)
        if encoded is None:
            return False
        if self._disconnected or not self._is_open():
            return True  # strawberry is ending the operation: nothing more goes out
        try:
            await self._write(self._prefix + encoded + "}")
        except WebSocketDisconnected:
            # The connection's handler sees the close and cancels this operation.
            self._disconnected = True
        return True


_OUTPUT: ContextVar[DirectOutput | None] = ContextVar("stockql_direct_output", default=None)


@contextmanager
def direct_output(output: DirectOutput) -> Iterator[None]:
    """Send the current task's shared subscription events through `output` (each websocket
    operation runs in a task of its own, so the setting stays with it)."""
    token = _OUTPUT.set(output)
    try:
        with subscription_executor_scope():
            yield
    finally:
        _OUTPUT.reset(token)


async def send_directly(payload: object) -> bool:
    """Write a subscription event's payload to the current websocket operation; False when
    the resolver has to yield it (no direct output, or not shareable)."""
    output = _OUTPUT.get()
    return output is not None and await output.send(payload)


def transport_ws_prefix(operation_id: str) -> str:
    """graphql-transport-ws: {"id": ..., "type": "next", "payload": ...}."""
    return f'{{"id":{orjson.dumps(operation_id).decode()},"type":"next","payload":'


def legacy_ws_prefix(operation_id: str) -> str:
    """graphql-ws (subscriptions-transport-ws): {"type": "data", "id": ..., "payload": ...}."""
    return f'{{"type":"data","id":{orjson.dumps(operation_id).decode()},"payload":'
