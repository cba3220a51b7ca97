"""Executing a subscription event once for all the subscribers that ask the same.

When thousands watch one symbol, every one of them would otherwise run graphql-core over the
same price. Only payload types marked `@shared_by_subscribers` take part: their fields are
plain data that do not depend on who asks (no context, no permissions), and the streams yield
one object per event to all of their subscribers (see resolvers/realtime.py). Results are
kept per event and request (document, operation, variables); the encoded payload is shared
too, for graphql_schema/direct_delivery.py. graphql_schema/execution.py's executor reads and
fills them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

import orjson
from graphql import ExecutionResult

if TYPE_CHECKING:
    from graphql_schema.execution import StockQLExecutionContext

SHARED_PAYLOAD_TYPES: set[type] = set()
_Type = TypeVar("_Type", bound=type)


def shared_by_subscribers(cls: _Type) -> _Type:
    """Marks a subscription payload type whose results may be shared between subscribers:
    every field is a plain attribute that depends on the payload alone."""
    SHARED_PAYLOAD_TYPES.add(cls)
    return cls


class EventResults:
    """The latest events' results by the subscription that asked (its document and
    variables), with the result's `next` payload as JSON once someone asked for it. Events
    are keyed by identity and kept alive by their entry, so an id is never reused while its
    entry exists; the oldest entries go first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], EventResult] = OrderedDict()

    def get(self, event: object, request: str) -> EventResult | None:
        entry = self._entries.get((id(event), request))
        return entry if entry is not None and entry.event is event else None

    def put(self, event: object, request: str, result: ExecutionResult) -> None:
        self._entries[(id(event), request)] = EventResult(event, result)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class EventResult:
    __slots__ = ("encoded", "event", "result")

    def __init__(self, event: object, result: ExecutionResult) -> None:
        self.event = event
        self.result = result
        self.encoded: str | None = None


# Per process: an event is published once and reaches every subscriber within moments.
EVENT_RESULTS = EventResults(max_entries=4096)
# The executor of the subscription whose task this is, once it mapped a shareable event.
SUBSCRIPTION_EXECUTOR: ContextVar[StockQLExecutionContext | None] = ContextVar(
    "stockql_subscription_executor", default=None
)


@contextmanager
def subscription_executor_scope() -> Iterator[None]:
    """A block in which `subscription_executor` sees only a subscription started inside it."""
    token = SUBSCRIPTION_EXECUTOR.set(None)
    try:
        yield
    finally:
        SUBSCRIPTION_EXECUTOR.reset(token)


def subscription_executor() -> StockQLExecutionContext | None:
    """The executor of the current task's subscription, once its first shareable event went
    through graphql-core; None before and outside subscriptions."""
    return SUBSCRIPTION_EXECUTOR.get()


def encoded_event_result(executor: StockQLExecutionContext, payload: object) -> str | None:
    """The `next` payload ({"data": ...}) as JSON of `payload` executed for `executor`'s
    subscription, worked out once per event for everyone asking the same; None when the
    payload is not shareable or its result is not a plain error-free one."""
    if type(payload) not in SHARED_PAYLOAD_TYPES:
        return None
    request = executor._request()
    entry = EVENT_RESULTS.get(payload, request)
    if entry is None:
        result = executor.build_per_event_executor(payload).execute_operation(False)
        if type(result) is not ExecutionResult or result.errors:
            # The general path executes it again, awaits what is awaitable and reports errors.
            close = getattr(result, "close", None)
            if close is not None:
                close()  # a coroutine never awaited would warn
            return None
        entry = EVENT_RESULTS.get(payload, request)
        if entry is None:
            return None
    if entry.encoded is None:
        entry.encoded = orjson.dumps({"data": entry.result.data}).decode()
    return entry.encoded
