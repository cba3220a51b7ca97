"""Completing long lists in one pass instead of graphql-core's item by item.

graphql-core completes every list item on its own (path key, awaitable and error checks,
non-null wrapping, coercion): ~1 microsecond per leaf, so the six 2,520-item lists of
`PriceHistory.columns` cost more than everything else in the request. Lists of plain scalar
values are coerced here in one pass instead, and so are lists of objects whose selected
fields are all plain attributes of leaf type (`PriceHistory.bars`). Each function returns
None for anything unusual, and on any failure, so that graphql-core's own path takes over and
reports errors exactly as it always does (graphql_schema/execution.py calls them).
"""

from datetime import date, datetime
from typing import Any

from graphql import (
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList
from graphql.pyutils import Undefined

_NONE = type(None)
# Exact types whose values can be neither exceptions nor awaitables, so graphql-core would
# hand each one straight to the scalar's coercion. Subclasses are excluded on purpose:
# they could add __await__.
_PLAIN_TYPES = frozenset({_NONE, bool, int, float, str, datetime, date})
# A coercion that returns one of these is an error in graphql-core.
_NOT_VALUES = frozenset({_NONE, type(Undefined)})
# Where strawberry keeps a GraphQL field's own definition (GraphQLCoreConverter).
_STRAWBERRY_DEFINITION = "strawberry-definition"


def coerce_scalars(
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


def complete_plain_objects(
    executor: Executor[Any],
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
    if executor.middleware_manager is not None and executor.middleware_manager.middlewares:
        return None  # an extension wraps every resolver
    plan = _plain_field_plan(
        object_type, executor.collect_subfields(object_type, field_details_list)
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
