"""A strawberry extension counting GraphQL operations and their latency, and the running
subscriptions, per operation name and type."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.metrics import Metrics

# Operation names are chosen by clients: only names that read like GraphQL names become label
# values, and only so many distinct ones, so that no client can grow the label set at will.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DEFAULT_MAX_NAMES = 200
ANONYMOUS = "anonymous"
OTHER = "other"
UNKNOWN_TYPE = "unknown"


class OperationNames:
    """Operation names as label values: `anonymous` without one; the name itself when it is a
    GraphQL name of at most 64 characters and one of the first `max_names` seen; else `other`."""

    def __init__(self, *, max_names: int = DEFAULT_MAX_NAMES) -> None:
        if max_names < 1:
            raise ValueError(f"max_names must be at least 1, not {max_names}")
        self._max_names = max_names
        self._seen: set[str] = set()

    def label(self, name: object) -> str:
        """`name` as a label value; anything but a string (clients send JSON) is `other`."""
        if name is None or name == "":
            return ANONYMOUS
        if not isinstance(name, str):
            return OTHER
        if name in self._seen:
            return name
        if len(self._seen) >= self._max_names or not _NAME.fullmatch(name):
            return OTHER
        self._seen.add(name)
        return name


class OperationCounter:
    """Counts operations and observes their durations per name and type: those executed (the
    extension below) and those the response cache answers (app/response_cache.py)."""

    def __init__(self, metrics: Metrics, names: OperationNames | None = None) -> None:
        self.metrics = metrics
        self._names = names if names is not None else OperationNames()

    def count(self, name: object, operation_type: str, seconds: float) -> None:
        labels = (self._names.label(name), operation_type)
        self.metrics.graphql_requests.labels(*labels).inc()
        self.metrics.graphql_duration.labels(*labels).observe(seconds)


class GraphQLMetrics(SchemaExtension):
    """Counts each operation and observes its duration when it ends; a subscription is running
    from the start of its execution (it passed validation) until it ends."""

    def __init__(self, *, counter: OperationCounter) -> None:
        super().__init__()
        self._counter = counter
        self._metrics = counter.metrics
        self._subscribed = False

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            # Also when a subscription is stopped: its stream is closed at this yield.
            if self._subscribed:
                self._metrics.subscriptions.dec()
            self._counter.count(
                self.execution_context.operation_name, self._type(), time.perf_counter() - started
            )

    def on_execute(self) -> Iterator[None]:
        # Execution starts only for a valid document: a refused subscription never counts.
        if self._type() == OperationType.SUBSCRIPTION.value:
            self._subscribed = True
            self._metrics.subscriptions.inc()
        yield

    def _type(self) -> str:
        if self.execution_context.graphql_document is None:
            return UNKNOWN_TYPE  # the document did not parse
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # no such operation in the document, or several without a name
            return UNKNOWN_TYPE


def graphql_metrics(counter: OperationCounter) -> Callable[[], SchemaExtension]:
    """The extension factory for build_schema: one counter shared by every operation."""
    return lambda: GraphQLMetrics(counter=counter)
