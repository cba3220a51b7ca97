"""strawberry's websocket protocol handlers, counting open connections and logging each
operation with its id bound (`operation_id`) for every line written while it runs. Each
operation may write shared subscription events itself (graphql_schema/direct_delivery.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from structlog.contextvars import bind_contextvars

from app.metrics import Metrics
from graphql_schema.context import Context
from graphql_schema.direct_delivery import (
    DirectOutput,
    direct_output,
    legacy_ws_prefix,
    transport_ws_prefix,
)

log = logging.getLogger(__name__)


class _MeteredView(Protocol):
    metrics: Metrics


class _TextWebSocket(Protocol):
    """The view's websocket adapter (app/graphql_view.py)."""

    async def send_text(self, message: str) -> None: ...

    def send_text_now(self, message: str) -> bool: ...


def _direct_output(websocket: object, prefix: str, *, is_open: Callable[[], bool]) -> DirectOutput:
    """Where an operation writes shared subscription events: the view's websocket adapter."""
    adapter = cast("_TextWebSocket", websocket)
    return DirectOutput(
        prefix=prefix, write=adapter.send_text, write_now=adapter.send_text_now, is_open=is_open
    )


@contextmanager
def _counted(view: object) -> Iterator[None]:
    """Count an open connection of `view` (a GraphQLView) while the block runs."""
    gauge = cast("_MeteredView", view).metrics.websocket_connections
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


@contextmanager
def _logged(operation_id: str) -> Iterator[None]:
    """Bind `operation_id` for what the operation logs and log its start and end. Each
    operation runs in a task of its own, so the binding stays with it."""
    bind_contextvars(operation_id=operation_id)
    log.info("websocket operation started")
    try:
        yield
    finally:
        log.info("websocket operation ended")


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

    async def handle(self) -> None:
        with _counted(self.view):
            await super().handle()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        output = _direct_output(
            self.websocket,
            transport_ws_prefix(operation.id),
            # The client's `complete` unregisters the operation before its task is cancelled.
            is_open=lambda: self.operations.get(operation.id) is operation,
        )
        with _logged(operation.id), direct_output(output):
            await super().run_operation(operation)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws (subscriptions-transport-ws)."""

    async def handle(self) -> None:
        with _counted(self.view):
            await super().handle()

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        output = _direct_output(
            self.websocket,
            legacy_ws_prefix(operation_id),
            is_open=lambda: operation_id in self.tasks,
        )
        with _logged(operation_id), direct_output(output):
            await super().handle_async_results(operation_id, query, operation_name, variables)
