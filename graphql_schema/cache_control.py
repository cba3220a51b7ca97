"""Cache hints per field (`@cacheControl(maxAge, scope)`, as Apollo Server declares them) and
the cache policy of one operation: how long its result may be shared, with whom, and which
symbols' new prices make it stale.

Root fields of Query declare their hint; fields below inherit it. A root field without a
hint is not cacheable (max age 0), so a new field is never cached by accident. A PRIVATE
field (anything about the signed-in user) makes the whole result private: such results are
never stored in the shared response cache. A cached field with a `symbol` argument is
invalidated by that symbol's price events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)
from strawberry.schema_directive import Location

from graphql_schema.context import Info


@strawberry.enum
class CacheControlScope(Enum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="How long the field's value may be cached, and whether it may be shared "
    "between users (PUBLIC) or belongs to one (PRIVATE).",
)
class CacheControl:
    max_age: int
    scope: CacheControlScope = CacheControlScope.PUBLIC


SYMBOL_ARGUMENT = "symbol"
# Where a resolver lowers the max age of this request's response (see lower_max_age).
MAX_AGE_SCOPE_KEY = "stockql.cache_max_age"


def lower_max_age(info: Info, seconds: float) -> None:
    """Keep this response no longer than `seconds`, whatever the field's hint says (as
    Apollo's dynamic cache hints do): the data it shows goes stale sooner. Read by the
    response cache from the request's ASGI scope once the response is complete."""
    scope = info.context.request.scope
    current = scope.get(MAX_AGE_SCOPE_KEY)
    wanted = max(0, math.floor(seconds))
    scope[MAX_AGE_SCOPE_KEY] = wanted if current is None else min(current, wanted)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """`max_age` 0: not cacheable. `symbols`: whose price events invalidate the result."""

    max_age: int
    scope: CacheControlScope
    symbols: frozenset[str] = frozenset()

    @property
    def shared(self) -> bool:
        """Whether the result may be stored in the response cache shared by every client."""
        return self.max_age > 0 and self.scope is CacheControlScope.PUBLIC

    def cache_control_header(self) -> str:
        if self.max_age <= 0:
            return "no-store"
        if self.scope is CacheControlScope.PRIVATE:
            return f"private, max-age={self.max_age}"
        return f"public, max-age={self.max_age}"


NOT_CACHEABLE = CachePolicy(max_age=0, scope=CacheControlScope.PUBLIC)


def query_hints(schema: strawberry.Schema) -> dict[str, CacheControl]:
    """The hints the schema's Query fields declare, by GraphQL field name."""
    definition = schema.get_type_by_name("Query")
    fields = getattr(definition, "fields", [])
    hints = {}
    for field in fields:
        for directive in field.directives:
            if isinstance(directive, CacheControl):
                hints[schema.config.name_converter.get_graphql_name(field)] = directive
    return hints


def cache_policy(
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    hints: Mapping[str, CacheControl],
) -> CachePolicy:
    """The policy of the operation `operation_name` selects in `document` (a valid one)."""
    operation = selected_operation(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return NOT_CACHEABLE
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    max_age: int | None = None
    private = False
    symbols: set[str] = set()
    for field in _root_fields(operation.selection_set, fragments):
        name = field.name.value
        if name == "__typename":
            continue
        hint = hints.get(name)
        if hint is None:
            return NOT_CACHEABLE
        max_age = hint.max_age if max_age is None else min(max_age, hint.max_age)
        private = private or hint.scope is CacheControlScope.PRIVATE
        symbol = _symbol_argument(field, variables or {})
        if symbol is not None:
            symbols.add(symbol)
    if not max_age:
        return NOT_CACHEABLE
    scope = CacheControlScope.PRIVATE if private else CacheControlScope.PUBLIC
    return CachePolicy(max_age=max_age, scope=scope, symbols=frozenset(symbols))


def selected_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the one named `name`, else the document's only one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def _root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The root fields, through fragments and inline fragments (validation has ruled out
    fragment cycles)."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields += _root_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                fields += _root_fields(fragment.selection_set, fragments)
    return fields


def _symbol_argument(field: FieldNode, variables: Mapping[str, Any]) -> str | None:
    for argument in field.arguments or ():
        if argument.name.value != SYMBOL_ARGUMENT:
            continue
        value = argument.value
        if isinstance(value, StringValueNode):
            return value.value.strip().upper()
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given.strip().upper() if isinstance(given, str) else None
    return None
