"""A graphql-transport-ws operation run on the direct path (graphql_schema/fanout/direct.py).

Its messages are the general path's: each event the output could not take as `next`, an error
of the stream as a `next` with errors, `complete` when the stream ends. It is counted as
app/graphql_metrics.py's extension counts an operation on the general path: a running
subscription from its start, one operation of its name and type with its duration at its end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

    from app.graphql_metrics import OperationCounter
    from app.metrics import Metrics
    from graphql_schema.fanout.direct import DirectSubscriptions
    from graphql_schema.fanout.operation import OperationOutput

_SUBSCRIPTION = OperationType.SUBSCRIPTION.value


async def run_direct(
    direct: DirectSubscriptions,
    operation: Operation[Any, Any],
    *,
    context: object,
    output: OperationOutput,
    metrics: Metrics,
    operations: OperationCounter | None,
) -> bool:
    """Run `operation` to its end; False, having sent nothing, when it has to take the
    general path."""
    started = time.perf_counter()
    subscription = await direct.start(
        operation.query,
        operation.variables,
        operation.operation_name,
        context=context,
        output=output,
    )
    if subscription is None:
        return False
    metrics.subscriptions.inc()
    try:
        async with aclosing(subscription.events) as events:
            while True:
                try:
                    result = await subscription.event_result(await anext(events))
                except StopAsyncIteration:
                    break
                except Exception as error:  # strawberry reports any as a result
                    await operation.send_next(subscription.error_result(error))
                    break
                await operation.send_next(result)
        await operation.send_operation_message({"id": operation.id, "type": "complete"})
    finally:
        metrics.subscriptions.dec()
        if operations is not None:
            operations.count(
                subscription.operation_name, _SUBSCRIPTION, time.perf_counter() - started
            )
    return True
