"""The graphql-core executor with a fast path for long lists of scalars.

graphql-core completes every list item on its own (path key, awaitable and error checks,
non-null wrapping, coercion): ~1 microsecond per leaf, so the six 2,520-item lists of
`PriceHistory.columns` cost more than everything else in the request. Lists of plain scalar
values are coerced here in one pass instead; anything unusual, and any failure, takes
graphql-core's own path, which then reports errors exactly as it always does.

It also gives each subscription event a subfield memo of its own: graphql-core 3.3.2 shares
one between a subscription's executor and the copy it makes per event, so every event added
an entry (about 1 KB of server memory) that lasted as long as the subscription.
"""

from collections.abc import AsyncIterable, Iterable
from datetime import date, datetime
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_NONE = type(None)
# Exact types whose values can be neither exceptions nor awaitables, so graphql-core would
# hand each one straight to the scalar's coercion. Subclasses are excluded on purpose:
# they could add __await__.
_PLAIN_TYPES = frozenset({_NONE, bool, int, float, str, datetime, date})
# A coercion that returns one of these is an error in graphql-core.
_NOT_VALUES = frozenset({_NONE, type(Undefined)})


class StockQLExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        # The memo is keyed by the identity of field lists that are new with each event:
        # shared (graphql-core shallow-copies it), it would only ever grow.
        executor._relevant_sub_fields = {}
        return executor

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
            if completed is not None:
                return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )


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
