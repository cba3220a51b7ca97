"""Hypothesis strategies for whole GraphQL requests, derived from a schema by introspection.

Every field of Query, Mutation and Subscription is one `Operation`: a document selecting the
field with every argument it and its selected subfields take (PriceHistory.sma(window) too),
each argument a variable `$a0`, `$a1`, ... `requests(operation)` draws a request in one of three
forms: variables, or the same values inlined as literals, holding values the declared types
accept (edges included: 32-bit Int limits, huge strings, strings with NUL and other control
characters, empty lists) with at times one argument of any JSON instead; or variables that
are all any JSON (wrong types, nesting, numbers past 64 bits, NaN). New operations and
arguments are covered as soon as the schema has them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_named_type,
    is_leaf_type,
)
from hypothesis import strategies as st

from graphql_schema.schema import build_schema

# Inside the 32-bit range of GraphQL's Int, and past it (refused before any resolver runs).
INT_EDGES = (0, 1, -1, 2, 20, 200, 10_000, 2**31 - 1, -(2**31))
OUT_OF_RANGE_INTS = (2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**64), 10**30)
FLOAT_EDGES = (0.0, -0.0, 1e-308, 5e-324, 1.7976931348623157e308, -1e308, 0.1, 1e16)
# Values that pass the first checks, so that some examples reach deeper code.
PLAUSIBLE_STRINGS = (
    "AAPL", "MSFT", "msft", "ZZZZ", "BRK.B", "A", "2024-01-02", "2024-02-30", "1970-01-01",
    "2024-01-02T15:30:00Z", "9999-12-31T23:59:59Z", "ada@example.com", "correct horse battery",
    "1732255200000-0", "0-0", "99999999999999999999-0", "-1", "", " ", "null", "__typename",
    "PRICE_ABOVE", "DAILY", "Traceback", "'; DROP TABLE users; --",
)  # fmt: skip
# Control characters, NUL first: PostgreSQL cannot store NUL in text, so each must be refused
# as bad input before any statement runs (st.text() alone rarely draws them).
CONTROL_STRINGS = (
    "\x00", "AAPL\x00", "ada\x00@example.com", "\x00\x00\x00", "\x01", "\x08", "\x0b",
    "\x1b[31mred", "\x7f", "\x85", "\x9f", "tab\tand\nnewline\r",
)  # fmt: skip
PLAUSIBLE_DATES = ("2024-01-02", "2024-03-28", "2015-06-30", "2024-12-31", "2030-01-01")
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
HOLE = re.compile(r"<<(a\d+)>>")
MAX_SELECTION_DEPTH = 3


@dataclass(frozen=True)
class Argument:
    variable: str
    type: GraphQLInputType


@dataclass
class Operation:
    """One root field (`kind` is query, mutation or subscription) and its arguments."""

    kind: str
    field_name: str
    arguments: list[Argument] = field(default_factory=list)
    # The field call and its selection, with `<<a0>>`-style holes for the arguments.
    template: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.field_name}"

    def document(self, literals: dict[str, str] | None = None) -> str:
        """With variables (`literals` None) or with each hole filled by its literal."""
        if literals is None:
            holes = {argument.variable: f"${argument.variable}" for argument in self.arguments}
            declared = ", ".join(
                f"${argument.variable}: {argument.type}" for argument in self.arguments
            )
            header = f"{self.kind} Fuzz({declared})" if declared else f"{self.kind} Fuzz"
        else:
            holes, header = literals, f"{self.kind} Fuzz"
        call = HOLE.sub(lambda hole: holes[hole.group(1)], self.template)
        return f"{header} {{ {call} }}"


def introspected_schema() -> GraphQLSchema:
    """The served schema as a client sees it through introspection."""
    return build_client_schema(build_schema().introspect())  # type: ignore[arg-type]


def operations(schema: GraphQLSchema) -> list[Operation]:
    found = []
    roots = (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    )
    for kind, root in roots:
        for name, root_field in (root.fields if root else {}).items():
            operation = Operation(kind, name)
            operation.template = _call(operation, name, root_field, depth=0)
            found.append(operation)
    return found


def _call(operation: Operation, name: str, called: GraphQLField, *, depth: int) -> str:
    parts = []
    for argument_name, argument in called.args.items():
        variable = f"a{len(operation.arguments)}"
        operation.arguments.append(Argument(variable, argument.type))
        parts.append(f"{argument_name}: <<{variable}>>")
    arguments = f"({', '.join(parts)})" if parts else ""
    return f"{name}{arguments}{_selection(operation, called.type, depth=depth)}"


def _selection(operation: Operation, output: GraphQLOutputType, *, depth: int) -> str:
    named = get_named_type(output)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType):
        members = " ".join(
            f"... on {member.name}{_selection(operation, member, depth=depth)}"
            for member in named.types
        )
        return f" {{ __typename {members} }}"
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType), named
    chosen = []
    for name, subfield in named.fields.items():
        leaf = is_leaf_type(get_named_type(subfield.type))
        if leaf or depth + 1 < MAX_SELECTION_DEPTH:
            chosen.append(_call(operation, name, subfield, depth=depth + 1))
    return f" {{ __typename {' '.join(chosen)} }}"


# ---- values -----------------------------------------------------------------------------


def _strings() -> st.SearchStrategy[str]:
    huge = st.builds(
        lambda part, times: part * times,
        st.text(min_size=1, max_size=4),
        st.integers(2_000, 30_000),
    )
    return st.one_of(
        st.sampled_from(PLAUSIBLE_STRINGS),
        st.sampled_from(CONTROL_STRINGS),
        st.builds(
            lambda text, control: text + control,
            st.text(max_size=8),
            st.sampled_from(CONTROL_STRINGS),
        ),
        st.text(),  # any unicode, control characters included
        st.text(st.characters(codec="ascii"), max_size=12),
        huge,
    )


def _integers() -> st.SearchStrategy[int]:
    """Ints GraphQL's Int accepts (32-bit), edges first."""
    return st.sampled_from(INT_EDGES) | st.integers(-(2**31), 2**31 - 1)


def _floats() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from(FLOAT_EDGES), st.floats(allow_nan=False, allow_infinity=False))


def any_json() -> st.SearchStrategy[Any]:
    """Any JSON value, nested; NaN and infinities too (sent, they make the body invalid JSON)."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        _integers(),
        st.sampled_from(OUT_OF_RANGE_INTS),
        st.integers(),
        _floats(),
        st.sampled_from((math.nan, math.inf, -math.inf)),
        _strings(),
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(_strings(), children, max_size=4)
        ),
        max_leaves=8,
    )


def typed(input_type: GraphQLInputType) -> st.SearchStrategy[Any]:
    """Values the declared type accepts, so that requests pass validation and reach the
    resolvers with edge values: 32-bit Int limits, huge or control-character strings, empty
    lists, dates far away; null for nullable types."""
    if isinstance(input_type, GraphQLNonNull):
        return _typed_named(input_type.of_type)
    return st.none() | _typed_named(input_type)


def _typed_named(input_type: GraphQLInputType) -> st.SearchStrategy[Any]:
    if isinstance(input_type, GraphQLList):
        inner = typed(input_type.of_type)
        # Input coercion also accepts a single value for a list.
        return st.lists(inner, max_size=5) | inner
    if isinstance(input_type, GraphQLEnumType):
        return st.sampled_from(list(input_type.values))
    if isinstance(input_type, GraphQLInputObjectType):
        required = {
            name: typed(input_field.type)
            for name, input_field in input_type.fields.items()
            if isinstance(input_field.type, GraphQLNonNull)
        }
        optional = {
            name: typed(input_field.type)
            for name, input_field in input_type.fields.items()
            if name not in required
        }
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(input_type, GraphQLScalarType), input_type
    return _scalars(input_type.name)


def _scalars(name: str) -> st.SearchStrategy[Any]:
    if name == "Int":
        return _integers()
    if name == "Float":
        return _floats() | _integers()  # an Int literal is a Float too
    if name == "Boolean":
        return st.booleans()
    if name == "ID":
        return _strings() | _integers()
    if name == "Date":
        return st.sampled_from(PLAUSIBLE_DATES) | st.dates().map(lambda day: day.isoformat())
    if name == "DateTime":
        return st.datetimes().map(lambda moment: moment.isoformat() + "Z")
    if name == "JSON":
        return any_json()
    return _strings()  # String and any scalar added later


# ---- requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request body: `query` plus `variables`, and what to show when it fails."""

    query: str
    variables: dict[str, Any]
    form: str

    def body(self) -> str:
        """JSON text; NaN and infinities are written as JavaScript tokens (invalid JSON)."""
        return json.dumps({"query": self.query, "variables": self.variables}, allow_nan=True)

    def sent_strings(self) -> Iterator[str]:
        """Every string the request carries: servers may echo them back in messages."""
        yield from _strings_in(self.variables)
        yield from re.findall(r'"((?:[^"\\]|\\.)*)"', self.query)


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings_in(item)


@st.composite
def requests(draw: st.DrawFn, operation: Operation) -> Request:
    form = draw(st.sampled_from(("variables", "mismatched variables", "literals")))
    names = [argument.variable for argument in operation.arguments]
    # Half the requests are well typed throughout, so that they pass validation and reach
    # the resolvers; in the others one argument (or, mismatched, every one) is any JSON.
    wrong = set(names) if form == "mismatched variables" else set()
    # bool(): after a bare list, mypy would expect draw() to return a list too.
    wrong |= {draw(st.sampled_from(names))} if bool(names) and draw(st.booleans()) else set()
    values = {
        argument.variable: draw(any_json() if argument.variable in wrong else typed(argument.type))
        for argument in operation.arguments
    }
    if form == "literals":
        types = {argument.variable: argument.type for argument in operation.arguments}
        literals = {name: literal(value, types[name]) for name, value in values.items()}
        return Request(operation.document(literals), {}, form)
    # A variable left out is not a null: the argument's default applies, or it is missing.
    omitted = draw(st.sampled_from(names)) if names and draw(st.integers(0, 4)) == 0 else None
    variables = {name: value for name, value in values.items() if name != omitted}
    return Request(operation.document(), variables, form)


def literal(value: Any, input_type: GraphQLInputType | None = None) -> str:
    """A GraphQL literal for a JSON value. Strings that are GraphQL names are written bare
    (as enum values) where the declared type is an enum, quoted everywhere else."""
    named = get_named_type(input_type) if input_type is not None else None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "NaN"  # not a literal: refused
    if isinstance(value, str):
        bare = isinstance(named, GraphQLEnumType) and NAME.fullmatch(value)
        return value if bare else json.dumps(value)
    if isinstance(value, list):
        inner = _list_item_type(input_type)
        return "[" + ", ".join(literal(item, inner) for item in value) + "]"
    assert isinstance(value, dict), value
    field_types = named.fields if isinstance(named, GraphQLInputObjectType) else {}
    fields = (
        f"{key if NAME.fullmatch(key) else json.dumps(key)}: "
        f"{literal(item, field_types[key].type if key in field_types else None)}"
        for key, item in value.items()
    )
    return "{" + ", ".join(fields) + "}"


def _list_item_type(input_type: GraphQLInputType | None) -> GraphQLInputType | None:
    if isinstance(input_type, GraphQLNonNull):
        input_type = input_type.of_type
    if isinstance(input_type, GraphQLList):
        item: GraphQLInputType = input_type.of_type
        return item
    return input_type  # a single value given for a list keeps the item type
