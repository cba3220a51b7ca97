"""One websocket operation's way out for shared subscription events: its root value.

The protocol handler (app/websocket_handlers.py) makes one per operation and runs the
operation with it as the root value; the operation's executor attaches itself when the first
event goes through graphql-core (graphql_schema/fanout/execution.py), and the resolvers find it
as `info.root_value` (`operation_output`). Writes from `send` happen in the operation's task,
in order with what strawberry sends; strawberry still cancels the task when the operation or
the connection ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import orjson
from strawberry.http.exceptions import WebSocketDisconnected

if TYPE_CHECKING:
    from graphql_schema.fanout.execution import SharedEventExecution

_Event = TypeVar("_Event")


class OperationOutput:
    """One websocket operation's messages, written around a shared payload: `prefix` +
    payload + `}`. `is_open` tells whether the operation may still send."""

    def __init__(
        self,
        *,
        prefix: str,
        write: Callable[[str], Awaitable[None]],
        is_open: Callable[[], bool],
        write_now: Callable[[str], bool] | None = None,
        on_attach: Callable[[], None] | None = None,
    ) -> None:
        """`write_now` writes a message at once or returns False (see `send_now`);
        `on_attach` is called when the executor first attaches (the events are shared)."""
        self._prefix = prefix
        self._write = write
        self._write_now = write_now
        self._is_open = is_open
        self._disconnected = False
        self._executor: SharedEventExecution | None = None
        self._on_attach = on_attach

    def attach(self, executor: SharedEventExecution) -> None:
        """The operation's executor, which knows what the document asks of each payload."""
        first = self._executor is None
        self._executor = executor
        if first and self._on_attach is not None:
            self._on_attach()

    async def send(self, payload: object) -> bool:
        """Write `payload`'s message; False when it has to take the general path instead
        (before the executor attached, or not shareable). In the operation's task."""
        message = self._message(payload)
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
        own task: before the executor attached, for what cannot be shared, and when the
        connection cannot take a message right now."""
        if self._write_now is None or self._executor is None:
            return False
        if self._disconnected or not self._is_open():
            return True  # strawberry is ending the operation: nothing more goes out
        message = self._message(payload)
        return message is not None and self._write_now(message)

    def sender(self, to_payload: Callable[[_Event], object]) -> Callable[[_Event], bool]:
        """For a resolver to hand to its event source: each event's payload, sent at once."""
        return lambda event: self.send_now(to_payload(event))

    def _message(self, payload: object) -> str | None:
        """This operation's message around the shared payload; None when not shareable."""
        executor = self._executor
        if executor is None:
            return None
        encoded = executor.encoded_event_result(payload)
        return None if encoded is None else self._prefix + encoded + "}"


def operation_output(root_value: object) -> OperationOutput | None:
    """The websocket operation's output when `root_value` is one (None over HTTP)."""
    return root_value if type(root_value) is OperationOutput else None


def transport_ws_prefix(operation_id: str) -> str:
    """graphql-transport-ws: {"id": ..., "type": "next", "payload": ...}."""
    return f'{{"id":{orjson.dumps(operation_id).decode()},"type":"next","payload":'


def legacy_ws_prefix(operation_id: str) -> str:
    """graphql-ws (subscriptions-transport-ws): {"type": "data", "id": ..., "payload": ...}."""
    return f'{{"type":"data","id":{orjson.dumps(operation_id).decode()},"payload":'
