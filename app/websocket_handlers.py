"""strawberry's websocket protocol handlers, counting open connections and logging each
operation with its id bound (`operation_id`) for every line written while it runs. Each
operation runs with an output of its own as its root value, through which it writes shared
subscription events itself (graphql_schema/fanout). Over graphql-transport-ws, a
subscription of a document that ran before with shared events starts without strawberry's
per-operation machinery (app/direct_operations.py).

A connection signed in with a token is closed with 4401 as soon as the token is no longer
valid: each operation checks it first, and a watch checks it when it expires and every
`token_check_seconds` meanwhile (a revocation, on any replica, is seen within that)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from structlog.contextvars import bind_contextvars

from app.direct_operations import run_direct
from app.graphql_metrics import OperationCounter
from app.metrics import Metrics
from domain.cancellation import raise_if_cancelled
from domain.errors import StockQLError, Unauthenticated
from graphql_schema.context import Context
from graphql_schema.fanout.direct import DirectSubscriptions
from graphql_schema.fanout.operation import (
    OperationOutput,
    legacy_ws_prefix,
    transport_ws_prefix,
)

log = logging.getLogger(__name__)
# The close code of graphql-transport-ws for an unauthorized connection.
UNAUTHORIZED = 4401
# Checked this long past the expiry second, when the token is surely expired.
_PAST_EXPIRY_SECONDS = 0.05
DEFAULT_TOKEN_CHECK_SECONDS = 30.0


class _MeteredView(Protocol):
    metrics: Metrics
    operations: OperationCounter | None


class _Closable(Protocol):
    async def close(self, code: int, reason: str) -> None: ...


class _TextWebSocket(Protocol):
    """The view's websocket adapter (app/graphql_view.py)."""

    async def send_text(self, message: str) -> None: ...

    def send_text_now(self, message: str) -> bool: ...


def _operation_output(
    websocket: object,
    prefix: str,
    *,
    is_open: Callable[[], bool],
    on_attach: Callable[[], None] | None = None,
) -> OperationOutput:
    """Where an operation writes shared subscription events: the view's websocket adapter."""
    adapter = cast("_TextWebSocket", websocket)
    return OperationOutput(
        prefix=prefix,
        write=adapter.send_text,
        write_now=adapter.send_text_now,
        is_open=is_open,
        on_attach=on_attach,
    )


# _Counted and _Logged are classes, not @contextmanager generators: each stays alive for as
# long as its connection or subscription, and a generator, its frame and its context manager
# are three objects more per subscriber for the collector to walk (issue 17 point 4).


class _Counted:
    """Count an open connection of `view` (a GraphQLView) while the block runs."""

    __slots__ = ("_gauge",)

    def __init__(self, view: object) -> None:
        self._gauge = cast("_MeteredView", view).metrics.websocket_connections

    def __enter__(self) -> None:
        self._gauge.inc()

    def __exit__(self, *_exception: object) -> None:
        self._gauge.dec()


async def _token_still_valid(context: Context, websocket: object) -> bool:
    """Whether the connection's token (if any) is still valid; closes it with 4401 if not.
    Other failures (the database down) leave the decision to the next check."""
    if context.token is None:
        return True
    try:
        await context.check_token()
    except Unauthenticated as error:
        await cast("_Closable", websocket).close(UNAUTHORIZED, error.message)
        return False
    except StockQLError as error:
        log.warning("could not check a websocket's token: %s", error.message)
    return True


async def _watch_token(context: Context, websocket: object, every: float) -> None:
    while True:
        wait = every
        expires_at = context.token_expires_at
        if expires_at is not None:
            until_expiry = (expires_at - datetime.now(UTC)).total_seconds()
            wait = min(every, max(0.0, until_expiry) + _PAST_EXPIRY_SECONDS)
        await asyncio.sleep(wait)
        if not await _token_still_valid(context, websocket):
            return
        raise_if_cancelled()


class _TokenWatch:
    """The watch of one connection's token, from its acknowledgement to its end."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self, context: Context, websocket: object, view: object) -> None:
        """Watch the token the connection signed in with, if any (`view`: the GraphQLView)."""
        if context.token is None or self._task is not None:
            return
        every = float(getattr(view, "token_check_seconds", DEFAULT_TOKEN_CHECK_SECONDS))
        self._task = asyncio.create_task(_watch_token(context, websocket, every))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class _Logged:
    """Bind `operation_id` for what the operation logs and log its start and end. Each
    operation runs in a task of its own, so the binding stays with it."""

    __slots__ = ("_operation_id",)

    def __init__(self, operation_id: str) -> None:
        self._operation_id = operation_id

    def __enter__(self) -> None:
        bind_contextvars(operation_id=self._operation_id)
        log.info("websocket operation started")

    def __exit__(self, *_exception: object) -> None:
        log.info("websocket operation ended")


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, OperationOutput]):
    """graphql-transport-ws. The connection_init deadline is a timer, not strawberry's task
    per connection (a task, its sleep and its cancellation each time: set-up time and memory
    of 10,000 subscribers, issue 17 point 4)."""

    async def handle(self) -> None:
        self._token_watch = _TokenWatch()
        with _Counted(self.view):
            try:
                await super().handle()
            finally:
                self._token_watch.stop()
                self._init_deadline.cancel()

    def on_request_accepted(self) -> None:
        self._init_deadline = asyncio.get_running_loop().call_later(
            self.connection_init_wait_timeout.total_seconds(), self._init_timed_out
        )

    def _init_timed_out(self) -> None:
        # Never after connection_init: handle_connection_init cancels the timer first.
        self.connection_timed_out = True
        # Kept: the loop holds only weak references to tasks.
        self._closing = asyncio.create_task(
            self.websocket.close(code=4408, reason="Connection initialisation timeout")
        )

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        self._init_deadline.cancel()
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._token_watch.start(self.context, self.websocket, self.view)

    async def run_operation(self, operation: Operation[Context, OperationOutput]) -> None:
        if not await _token_still_valid(self.context, self.websocket):
            return
        # Any strawberry schema runs here; StockQL's starts known subscriptions directly.
        direct: DirectSubscriptions | None = getattr(self.schema, "direct_subscriptions", None)
        output = _operation_output(
            self.websocket,
            transport_ws_prefix(operation.id),
            # The client's `complete` unregisters the operation before its task is cancelled.
            is_open=lambda: self.operations.get(operation.id) is operation,
            # Its events were shared: the next operation of this document starts directly.
            on_attach=(
                (lambda: direct.remember(operation.query, operation.operation_name))
                if direct is not None
                else None
            ),
        )
        with _Logged(operation.id):
            if direct is not None and await self._ran_directly(direct, operation, output):
                return
            # strawberry reads the root value as the operation starts, before it first awaits
            # anything: no other operation of the connection can set its own in between.
            self.root_value = output
            await super().run_operation(operation)

    async def _ran_directly(
        self,
        direct: DirectSubscriptions,
        operation: Operation[Context, OperationOutput],
        output: OperationOutput,
    ) -> bool:
        """Ran on the direct path (app/direct_operations.py); failures as strawberry's own
        run_operation handles them."""
        view = cast("_MeteredView", self.view)
        try:
            return await run_direct(
                direct,
                operation,
                context=self.context,
                output=output,
                metrics=view.metrics,
                operations=view.operations,
            )
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise


class LegacyWSHandler(BaseGraphQLWSHandler[Context, OperationOutput]):
    """graphql-ws (subscriptions-transport-ws)."""

    async def handle(self) -> None:
        self._token_watch = _TokenWatch()
        with _Counted(self.view):
            try:
                await super().handle()
            finally:
                self._token_watch.stop()

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._token_watch.start(self.context, self.websocket, self.view)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        if not await _token_still_valid(self.context, self.websocket):
            return
        # Read by strawberry as the operation starts (see TransportWSHandler.run_operation).
        self.root_value = _operation_output(
            self.websocket,
            legacy_ws_prefix(operation_id),
            is_open=lambda: operation_id in self.tasks,
        )
        with _Logged(operation_id):
            await super().handle_async_results(operation_id, query, operation_name, variables)
