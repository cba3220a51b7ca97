"""Live subscription events written straight to the websocket, each payload encoded once.

A price event reaches a hundred subscribers of its symbol at once. Through the general path,
each of them runs graphql-core's event mapping, strawberry's result stream and extension
hooks, builds its `next` message and encodes it to JSON: all to send the same bytes with
another operation id. For payload types marked `@shared_by_subscribers` the resolvers offer
each event here first (`send_directly`): while a websocket operation is running (its handler
opened a `DirectOutput`) and the operation's executor has shown what the document asks of
such payloads, the event's payload is executed and encoded once for every subscriber asking
the same (graphql_schema/shared_results.py) and written inside this operation's own message.

The first event of every subscription (the snapshot, or the first replayed one) takes the
general path, which shows the operation's executor (see `subscription_executor`); an event
that cannot be shared (an error, an awaitable field) takes it too, so errors are reported
exactly as always. Writes happen in the operation's task, in order with what strawberry
sends; strawberry still cancels the task when the operation or the connection ends.
Per-result extension hooks (`on_stream_result`, `get_results`) do not run for events written
here: the schema's extensions have none that matter for a subscription event.

Once live, the operation's task need not even wake up per event: resolvers hand their event
source a `direct_sender`, which the event bus calls as each event arrives (while the task
waits with nothing pending) to write the message at once through the server's websocket
protocol (app/websocket_protocol.py). Each wake-up would leave a handful of awaitables
behind per subscriber and event (one per async generator level); at 10,000 messages a
second those filled the garbage collector's young generation with ~100,000 objects between
collections, each collection then stalling the server for 50-200 ms, and promoted to the
old generation, made full collections of over a second. What cannot be written at once
(flow control, a payload that cannot be shared) is queued and goes the task's way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import orjson
from strawberry.http.exceptions import WebSocketDisconnected

from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.shared_results import (
    encoded_event_result,
    subscription_executor,
    subscription_executor_scope,
)

_Event = TypeVar("_Event")


class DirectOutput:
    """One websocket operation's messages, written around a shared payload: `prefix` +
    payload + `}`. `is_open` tells whether the operation may still send."""

    def __init__(
        self,
        *,
        prefix: str,
        write: Callable[[str], Awaitable[None]],
        is_open: Callable[[], bool],
        write_now: Callable[[str], bool] | None = None,
    ) -> None:
        """`write_now` writes a message at once or returns False (see `send_now`)."""
        self._prefix = prefix
        self._write = write
        self._write_now = write_now
        self._is_open = is_open
        self._disconnected = False
        self._executor: StockQLExecutionContext | None = None

    async def send(self, payload: object) -> bool:
        """Write `payload`'s message; False when it has to take the general path instead.
        In the operation's task."""
        executor = self._executor or subscription_executor()
        if executor is None:
            return False
        self._executor = executor
        message = self._message(executor, payload)
        if message is None:
            return False
        if self._disconnected or not self._is_open():
            return True  # strawberry is ending the operation: nothing more goes out
        try:
            await self._write(message)
        except WebSocketDisconnected:
            # The connection's handler sees the close and cancels this operation.
            self._disconnected = True
        return True

    def send_now(self, payload: object) -> bool:
        """Write `payload`'s message at once, from any task (the event bus hands events off
        to it, see domain.events.Subscription.hand_off); False leaves it to the operation's
        own task: before `send` has seen the executor, for what cannot be shared, and when
        the connection cannot take a message right now."""
        executor = self._executor
        if executor is None or self._write_now is None:
            return False
        if self._disconnected or not self._is_open():
            return True  # strawberry is ending the operation: nothing more goes out
        message = self._message(executor, payload)
        return message is not None and self._write_now(message)

    def _message(self, executor: StockQLExecutionContext, payload: object) -> str | None:
        """This operation's message around the shared payload; None when not shareable."""
        encoded = encoded_event_result(executor, payload)
        return None if encoded is None else self._prefix + encoded + "}"


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


def direct_sender(to_payload: Callable[[_Event], object]) -> Callable[[_Event], bool] | None:
    """For a resolver to hand to its event source: sends each event's payload through the
    current websocket operation at once (`DirectOutput.send_now`); None outside one."""
    output = _OUTPUT.get()
    if output is None:
        return None
    return lambda event: output.send_now(to_payload(event))


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
