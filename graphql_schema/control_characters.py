"""Control characters are refused in every string a client sends, at the API boundary.

PostgreSQL cannot store NUL in text (the statement fails, as an internal error, with the
whole statement in the log), and the other control characters have no place in names,
emails, symbols or ids: they only corrupt logs and terminals. Checked in one place for every
field: literals in the document by a validation rule (cached with the document's
validation), variables when the executor is built (graphql_schema/execution.py). Tab, line
feed and carriage return are whitespace, not refused; lone surrogates cannot arrive (JSON
and GraphQL parsing refuse them) but are refused too, as PostgreSQL could not encode them.
"""

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableDefinitionNode,
)

# C0 controls but tab, LF and CR; DEL and the C1 controls; UTF-16 surrogates.
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# How deep a variable's value is searched: deeper values fail coercion anyway.
_MAX_DEPTH = 32


def refused_character(text: str) -> str | None:
    """The first character of `text` that is refused, or None."""
    found = _REFUSED.search(text)
    return found.group() if found else None


def control_character_error(field: str, character: str) -> GraphQLError:
    """The BAD_USER_INPUT error naming the input path (`input.email`, `$input.email`)."""
    return GraphQLError(
        f"{field} must not contain control characters; found U+{ord(character):04X}",
        extensions={"code": "BAD_USER_INPUT", "field": field},
    )


def variable_problem(variables: dict[str, Any] | None) -> GraphQLError | None:
    """The error for the first variable string (keys included) holding a refused
    character, or None. Every variable is searched whatever its declared type: no input
    accepts them, and a JSON scalar would pass them on."""
    for path, text in _strings(variables or {}, "$", 0):
        character = refused_character(text)
        if character is not None:
            return control_character_error(path, character)
    return None


def _strings(value: object, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            key_path = f"{path}{key}" if path == "$" else f"{path}.{key}"
            if isinstance(key, str):
                yield key_path, key
            yield from _strings(item, key_path, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]", depth + 1)


class NoControlCharactersRule(ValidationRule):
    """Refuses string literals with a refused character, naming the argument and input
    fields they stand in (`input.email`)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        character = refused_character(node.value)
        if character is None:
            return
        error = control_character_error(_literal_path([*ancestors, parent]), character)
        self.report_error(GraphQLError(error.message, node, extensions=error.extensions))


def _literal_path(ancestors: Any) -> str:
    names = []
    for ancestor in ancestors:
        if isinstance(ancestor, ArgumentNode | ObjectFieldNode):
            names.append(ancestor.name.value)
        elif isinstance(ancestor, VariableDefinitionNode):
            names.append(f"${ancestor.variable.name.value}")
    return ".".join(names) or "value"
