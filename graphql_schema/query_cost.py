"""What an operation costs, counted before it runs: the values its answer can hold at most.

A value is one leaf in the response. Lists multiply what they select: a list under a field
that serves bars (`history`, `backtest`) holds as many items as the bars it may return: at
most STOCKQL_MAX_HISTORY_ROWS, the `limit` asked for, and the bars of the interval that fit
between `start` and `end` (every calendar day, all day long); a list with a `limit` argument
holds that many; any other list counts its selection once. Aliases and fragments count every
time they appear, and `@skip`/`@include` are ignored (a field that might be skipped still
counts), so the cost is an upper bound. Thirty aliases of `history(limit: 20000)` with five
indicators cost millions; the dashboard's chart of 5,000 bars with five indicators 100,000.

Counted with the variables' values, so it cannot be part of the cached validation: the
executor (graphql_schema/execution.py) counts it before any resolver runs, and refuses an
operation over the limit with QUERY_TOO_EXPENSIVE. An operation whose count read no
variable and no clock (`fixed`) costs the same every time: the executor keeps its cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values

from domain.market import Interval

QUERY_TOO_EXPENSIVE = "QUERY_TOO_EXPENSIVE"
# Fields whose lists hold one item per bar: (parent type, field) -> whether `interval` and
# `limit` arguments bound them (besides start and end).
_BAR_SERVING_FIELDS = {("Query", "history"): True, ("Query", "backtest"): False}


@dataclass(frozen=True, slots=True)
class CostLimits:
    max_cost: int
    max_bars: int  # the most bars one field serves (STOCKQL_MAX_HISTORY_ROWS)


def too_expensive(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"This operation could return {cost:,} values, over this server's limit of {limit:,}: "
        "ask for fewer bars (limit), fields or aliases, or split it into several operations",
        extensions={"code": QUERY_TOO_EXPENSIVE, "cost": cost, "limit": limit},
    )


class OperationCost:
    """Counts one operation of a document (with its variables)."""

    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
        max_bars: int,
    ) -> None:
        self._fragments = fragments
        self._variables = variables
        self._max_bars = max_bars
        # Whether the count read neither a variable nor today's date: then it is the same
        # for every request of this operation.
        self.fixed = True

    def of(self, root: GraphQLObjectType, selection_set: SelectionSetNode) -> int:
        return self._selection(root, selection_set, bars=None)

    def _selection(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, bars: int | None
    ) -> int:
        return sum(self._field(parent, node, bars) for node in self._fields(selection_set))

    def _fields(self, selection_set: SelectionSetNode) -> Iterable[FieldNode]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    yield from self._fields(fragment.selection_set)

    def _field(self, parent: GraphQLNamedType, node: FieldNode, bars: int | None) -> int:
        definition = _field_definition(parent, node.name.value)
        if definition is None:  # __typename, or introspection's own fields
            return 1
        key = (parent.name, node.name.value)
        if key in _BAR_SERVING_FIELDS:
            bars = self._bars(definition, node, _BAR_SERVING_FIELDS[key])
        items = self._items(definition, node, bars)
        named = get_named_type(definition.type)
        if node.selection_set is None:
            return items
        return items * self._selection(named, node.selection_set, bars)

    def _bars(self, definition: GraphQLField, node: FieldNode, has_interval: bool) -> int:
        arguments = self._arguments(definition, node)
        bars = self._max_bars
        limit = arguments.get("limit")
        if has_interval and isinstance(limit, int) and limit > 0:
            bars = min(bars, limit)
        interval = arguments.get("interval") if has_interval else Interval.DAILY
        start, end = arguments.get("start"), arguments.get("end")
        if isinstance(interval, Interval) and isinstance(start, date):
            end = end if isinstance(end, date) else None
            if end is None:
                self.fixed = False  # counted up to today
            bars = min(bars, _bars_between(interval, start, end))
        return bars

    def _items(self, definition: GraphQLField, node: FieldNode, bars: int | None) -> int:
        if not _is_list(definition.type):
            return 1
        if bars is not None:
            return bars
        limit = self._argument(definition, node, "limit")
        return limit if limit and limit > 0 else 1

    def _argument(self, definition: GraphQLField, node: FieldNode, name: str) -> int | None:
        if name not in definition.args:
            return None
        value = self._arguments(definition, node).get(name)
        return value if isinstance(value, int) else None

    def _arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        if any(_holds_variable(argument.value) for argument in node.arguments or ()):
            self.fixed = False
        try:
            return get_argument_values(definition, node, self._variables)
        except GraphQLError:
            return {}  # a bad argument fails the operation later, with its own error


def _holds_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_holds_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_holds_variable(field.value) for field in value.fields)
    return False


def _bars_between(interval: Interval, start: date, end: date | None) -> int:
    """The most bars of `interval` from `start` to `end` (today when None), counting every
    calendar day and, for intraday bars, all 24 hours of it."""
    last = end or datetime.now(UTC).date()
    if last < start:
        return 1
    # One more for a bar that straddles an end (a week that starts before `start`).
    return math.ceil((last - start + timedelta(days=1)) / interval.length) + 1


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    fields = getattr(parent, "fields", None)
    return fields.get(name) if fields is not None else None


def _is_list(type_: GraphQLOutputType) -> bool:
    return is_list_type(get_nullable_type(type_))
