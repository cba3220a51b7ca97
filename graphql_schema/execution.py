"""The graphql-core executor with a fast path for long lists of scalars and plain objects.

graphql-core completes every list item on its own (path key, awaitable and error checks,
non-null wrapping, coercion): ~1 microsecond per leaf, so the six 2,520-item lists of
`PriceHistory.columns` cost more than everything else in the request. Lists of plain scalar
values are coerced here in one pass instead, and so are lists of objects whose selected
fields are all plain attributes of leaf type (`PriceHistory.bars`); anything unusual, and any
failure, takes graphql-core's own path, which then reports errors exactly as it always does.

It also gives each subscription event a subfield memo of its own: graphql-core 3.3.2 shares
one between a subscription's executor and the copy it makes per event, so every event added
an entry (about 1 KB of server memory) that lasted as long as the subscription.

And it executes a subscription event once for all the subscribers that ask the same: when
thousands watch one symbol, every one of them would otherwise run graphql-core over the same
price. Only payload types marked `@shared_by_subscribers` take part: their fields are plain
data that do not depend on who asks (no context, no permissions), and the streams yield one
object per event to all of their subscribers (see resolvers/realtime.py). The encoded
payload is shared too, for graphql_schema/direct_delivery.py.
"""

from collections import OrderedDict
from collections.abc import AsyncIterable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any, TypeVar

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLLeafType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
from graphql.execution.types import ExperimentalIncrementalExecutionResults
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_schema.control_characters import variable_problem
from graphql_schema.query_cost import CostLimits, OperationCost, too_expensive

_NONE = type(None)
# Exact types whose values can be neither exceptions nor awaitables, so graphql-core would
# hand each one straight to the scalar's coercion. Subclasses are excluded on purpose:
# they could add __await__.
_PLAIN_TYPES = frozenset({_NONE, bool, int, float, str, datetime, date})
# A coercion that returns one of these is an error in graphql-core.
_NOT_VALUES = frozenset({_NONE, type(Undefined)})
_SHARED_PAYLOAD_TYPES: set[type] = set()
# Where strawberry keeps a GraphQL field's own definition (GraphQLCoreConverter).
_STRAWBERRY_DEFINITION = "strawberry-definition"
_Type = TypeVar("_Type", bound=type)


def shared_by_subscribers(cls: _Type) -> _Type:
    """Marks a subscription payload type whose results may be shared between subscribers:
    every field is a plain attribute that depends on the payload alone."""
    _SHARED_PAYLOAD_TYPES.add(cls)
    return cls


class _EventResults:
    """The latest events' results by the subscription that asked (its document and
    variables), with the result's `next` payload as JSON once someone asked for it. Events
    are keyed by identity and kept alive by their entry, so an id is never reused while its
    entry exists; the oldest entries go first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], _EventResult] = OrderedDict()

    def get(self, event: object, request: str) -> "_EventResult | None":
        entry = self._entries.get((id(event), request))
        return entry if entry is not None and entry.event is event else None

    def put(self, event: object, request: str, result: ExecutionResult) -> None:
        self._entries[(id(event), request)] = _EventResult(event, result)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class _EventResult:
    __slots__ = ("encoded", "event", "result")

    def __init__(self, event: object, result: ExecutionResult) -> None:
        self.event = event
        self.result = result
        self.encoded: str | None = None


# Per process: an event is published once and reaches every subscriber within moments.
_EVENT_RESULTS = _EventResults(max_entries=4096)
# The executor of the subscription whose task this is, once it mapped a shareable event.
_SUBSCRIPTION_EXECUTOR: ContextVar["StockQLExecutionContext | None"] = ContextVar(
    "stockql_subscription_executor", default=None
)


class StockQLExecutionContext(StrawberryGraphQLCoreExecutionContext):
    # The schema's operation cost limit; None counts nothing (see execution_context_class).
    cost_limits: CostLimits | None = None
    # What the subscription asks (document, operation, variables) when its events' results
    # can be shared; set on the per-event copies only.
    _shared_request: str | None = None
    _request_key: str | None = None

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[GraphQLError] | Executor[Any]:
        """The executor, or the errors that refuse the request before any resolver runs:
        variables holding control characters (graphql_schema/control_characters.py), an
        operation over the cost limit (graphql_schema/query_cost.py)."""
        refused = variable_problem(raw_variable_values)
        if refused is not None:
            return [refused]
        executor = super().build(
            schema, document, root_value, context_value, raw_variable_values, *args, **kwargs
        )
        if cls.cost_limits is None or isinstance(executor, list):
            return executor
        return executor if (error := _over_budget(executor, cls.cost_limits)) is None else [error]

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        # The memo is keyed by the identity of field lists that are new with each event:
        # shared (graphql-core shallow-copies it), it would only ever grow.
        executor._relevant_sub_fields = {}
        if type(payload) in _SHARED_PAYLOAD_TYPES and isinstance(executor, StockQLExecutionContext):
            executor._shared_request = self._request()
            # Each websocket operation runs in a task of its own: this stays with it.
            _SUBSCRIPTION_EXECUTOR.set(self)
        return executor

    def execute_operation(
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        request = self._shared_request
        if request is None:
            return super().execute_operation(serially)
        shared = _EVENT_RESULTS.get(self.root_value, request)
        if shared is not None:
            return shared.result
        result = super().execute_operation(serially)
        # Only complete, error-free results: errors are rewritten per request.
        if type(result) is ExecutionResult and not result.errors:
            _EVENT_RESULTS.put(self.root_value, request, result)
        return result

    def _request(self) -> str:
        """The document, operation and variables of this subscription, worked out once."""
        if self._request_key is None:
            location = self.operation.loc
            document = location.source.body if location is not None else repr(self.operation)
            name = self.operation.name.value if self.operation.name else ""
            variables = sorted(self.variable_values.coerced.items())
            self._request_key = f"{name}\0{variables!r}\0{document}"
        return self._request_key

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: AsyncIterable[Any] | Iterable[Any],
        position_context: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[list[Any]]:
        # Exact lists and tuples only: the items are read more than once, and the fast path
        # leaves @stream to graphql-core.
        if (type(result) is list or type(result) is tuple) and not self.get_stream_usage(
            field_details_list, path
        ):
            completed = _coerce_scalars(return_type.of_type, result)
            if completed is None:
                completed = self._complete_plain_objects(
                    return_type.of_type, field_details_list, result
                )
            if completed is not None:
                return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _complete_plain_objects(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        items: list[Any] | tuple[Any, ...],
    ) -> list[Any] | None:
        """The completed list when the items are objects whose selected fields are all plain
        attributes of leaf type (history's bars: 2,518 x 6 fields); None to let graphql-core
        complete it item by item (and report the errors)."""
        nullable = not is_non_null_type(item_type)
        object_type = item_type.of_type if is_non_null_type(item_type) else item_type
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of:
            return None
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None  # an extension wraps every resolver
        plan = _plain_field_plan(
            object_type, self.collect_subfields(object_type, field_details_list)
        )
        if plan is None:
            return None
        completed: list[Any] = []
        try:
            for item in items:
                if item is None:
                    if not nullable:
                        return None
                    completed.append(None)
                    continue
                row: dict[str, Any] = {}
                for key, attribute, leaf, non_null in plan:
                    if leaf is None:  # __typename
                        row[key] = attribute
                        continue
                    value = getattr(item, attribute)
                    if value is None:
                        if non_null:
                            return None
                        row[key] = None
                        continue
                    if type(value) not in _PLAIN_TYPES:
                        return None
                    coerced = leaf.coerce_output_value(value)
                    if type(coerced) in _NOT_VALUES:
                        return None
                    row[key] = coerced
                completed.append(row)
        except Exception:  # graphql-core's path reports it, with the item's path
            return None
        return completed


# One selected field of a plain object: response key, attribute (or the type's name for
# __typename), leaf type (None for __typename), whether it is non-null.
_PlainField = tuple[str, str, GraphQLLeafType | None, bool]


def _plain_field_plan(
    object_type: GraphQLObjectType, collected: CollectedFields
) -> list[_PlainField] | None:
    """How to read each selected field of `object_type` straight from an attribute, or None
    when one of them needs graphql-core: arguments, a resolver of its own (strawberry marks
    plain attribute fields `_is_default`), a non-leaf type, deferred parts."""
    if collected.new_defer_usages:
        return None
    plan: list[_PlainField] = []
    for key, details in collected.grouped_field_set.items():
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            plan.append((key, object_type.name, None, False))
            continue
        field = object_type.fields.get(name)
        if field is None or field.args or node.arguments:
            return None
        if not getattr(field.resolve, "_is_default", False):
            return None
        definition = (field.extensions or {}).get(_STRAWBERRY_DEFINITION)
        attribute = getattr(definition, "python_name", None)
        non_null = is_non_null_type(field.type)
        leaf = field.type.of_type if non_null else field.type
        if not isinstance(attribute, str) or not is_leaf_type(leaf):
            return None
        plan.append((key, attribute, leaf, non_null))
    return plan


@contextmanager
def subscription_executor_scope() -> Iterator[None]:
    """A block in which `subscription_executor` sees only a subscription started inside it."""
    token = _SUBSCRIPTION_EXECUTOR.set(None)
    try:
        yield
    finally:
        _SUBSCRIPTION_EXECUTOR.reset(token)


def execution_context_class(cost_limits: CostLimits) -> type[StockQLExecutionContext]:
    """The executor of a schema whose operations are held to `cost_limits`."""
    return type("StockQLExecutionContext", (StockQLExecutionContext,), {"cost_limits": cost_limits})


def _over_budget(executor: Executor[Any], limits: CostLimits) -> GraphQLError | None:
    root = executor.schema.get_root_type(executor.operation.operation)
    if root is None:
        return None  # graphql-core refuses the operation type itself
    counter = OperationCost(
        executor.fragment_definitions, executor.variable_values, limits.max_bars
    )
    cost = counter.of(root, executor.operation.selection_set)
    return too_expensive(cost, limits.max_cost) if cost > limits.max_cost else None


def subscription_executor() -> StockQLExecutionContext | None:
    """The executor of the current task's subscription, once its first shareable event went
    through graphql-core; None before and outside subscriptions."""
    return _SUBSCRIPTION_EXECUTOR.get()


def encoded_event_result(executor: StockQLExecutionContext, payload: object) -> str | None:
    """The `next` payload ({"data": ...}) as JSON of `payload` executed for `executor`'s
    subscription, worked out once per event for everyone asking the same; None when the
    payload is not shareable or its result is not a plain error-free one."""
    if type(payload) not in _SHARED_PAYLOAD_TYPES:
        return None
    request = executor._request()
    entry = _EVENT_RESULTS.get(payload, request)
    if entry is None:
        result = executor.build_per_event_executor(payload).execute_operation(False)
        if type(result) is not ExecutionResult or result.errors:
            # The general path executes it again, awaits what is awaitable and reports errors.
            close = getattr(result, "close", None)
            if close is not None:
                close()  # a coroutine never awaited would warn
            return None
        entry = _EVENT_RESULTS.get(payload, request)
        if entry is None:
            return None
    if entry.encoded is None:
        entry.encoded = orjson.dumps({"data": entry.result.data}).decode()
    return entry.encoded


def _coerce_scalars(
    item_type: GraphQLOutputType, items: list[Any] | tuple[Any, ...]
) -> list[Any] | None:
    """The completed list when every item is a plain value that coerces cleanly; None to
    let graphql-core complete it item by item (and report the errors)."""
    nullable = not is_non_null_type(item_type)
    leaf = item_type.of_type if is_non_null_type(item_type) else item_type
    if not is_leaf_type(leaf):
        return None
    kinds = set(map(type, items))
    if not kinds <= _PLAIN_TYPES:
        return None
    present = items
    if _NONE in kinds:
        if not nullable:
            return None
        present = [item for item in items if item is not None]
    try:
        values = list(map(leaf.coerce_output_value, present))
    except Exception:  # graphql-core's path reports it, with the item's path
        return None
    if not _NOT_VALUES.isdisjoint(map(type, values)):
        return None
    if present is items:
        return values
    coerced = iter(values)
    return [None if item is None else next(coerced) for item in items]
