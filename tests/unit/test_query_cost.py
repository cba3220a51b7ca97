"""Counting an operation's cost (graphql_schema/query_cost.py) on the real schema."""

from __future__ import annotations

from typing import Any, cast

import pytest
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse

from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.query_cost import OperationCost
from graphql_schema.schema import SchemaLimits, build_schema

MAX_BARS = 1000
SCHEMA = build_schema(SchemaLimits(max_cost=10_000, max_history_rows=MAX_BARS))
# The schema's executor class: execution_context_class(...) made it.
FIXED_COSTS = cast("type[StockQLExecutionContext]", SCHEMA.execution_context_class).fixed_costs


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    executor = StockQLExecutionContext.build(SCHEMA._schema, parse(document), None, None, variables)
    assert not isinstance(executor, list), executor
    counter = OperationCost(executor.fragment_definitions, executor.variable_values, MAX_BARS)
    root = SCHEMA._schema.get_root_type(executor.operation.operation)
    assert root is not None
    return counter.of(root, executor.operation.selection_set)


def refusal(document: str, variables: dict[str, Any] | None = None) -> GraphQLError | None:
    return refusal_of(parse(document), variables)


def refusal_of(
    document: DocumentNode, variables: dict[str, Any] | None = None
) -> GraphQLError | None:
    executor = SCHEMA.execution_context_class.build(SCHEMA._schema, document, None, None, variables)
    return executor[0] if isinstance(executor, list) else None


DOCUMENTS = [
    ("{ symbols }", 1),
    ("{ __typename symbols }", 2),
    ('{ latestPrice(symbol: "A") { price volume } }', 2),
    ('{ history(symbol: "A", limit: 10) { symbol bars { open close } } }', 1 + 10 * 2),
    ('{ history(symbol: "A", limit: 10) { columns { open close } } }', 10 * 2),
    # A trade count and a VWAP are values like the prices, even when they are null.
    (
        '{ history(symbol: "A", interval: MIN1, limit: 10) { bars { close trades vwap } } }',
        10 * 3,
    ),
    ('{ history(symbol: "A", limit: 10) { columns { trades vwap } } }', 10 * 2),
    ('{ history(symbol: "A") { bars { close } } }', MAX_BARS),
    ('{ history(symbol: "A", limit: 99999) { bars { close } } }', MAX_BARS),
    ('{ history(symbol: "A", limit: -5) { bars { close } } }', MAX_BARS),
    ('{ history(symbol: "A", limit: 3) { macd { macd signal histogram } } }', 9),
    ('{ backtest(symbol: "A") { equity { timestamp } } }', MAX_BARS),
    # A range bounds the bars: every calendar day (and hour of it), one more for the ends.
    ('{ history(symbol: "A", start: "2026-11-01", end: "2026-11-30") { bars { close } } }', 31),
    (
        '{ history(symbol: "A", interval: WEEKLY, start: "2026-11-01", end: "2026-11-28")'
        " { bars { close } } }",
        5,
    ),
    (
        '{ history(symbol: "A", interval: ONE_HOUR, start: "2026-11-02", end: "2026-11-03")'
        " { bars { close } } }",
        49,
    ),
    (
        '{ history(symbol: "A", start: "2026-11-01", end: "2026-11-30", limit: 5)'
        " { bars { close } } }",
        5,
    ),
    ('{ history(symbol: "A", start: "1990-01-01") { bars { close } } }', MAX_BARS),
    (
        '{ backtest(symbol: "A", start: "2026-11-01", end: "2026-11-10") { equity { value } } }',
        11,
    ),
    ('{ predictions(symbol: "A", limit: 7) { id price } }', 14),
    ('{ predictions(symbol: "A") { id } }', 20),  # the argument's default
    ("{ notifications(limit: 5) { id } }", 5),
    ('{ a: history(symbol: "A", limit: 4) { bars { close } } ... on Query { symbols } }', 5),
]


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_values_an_answer_can_hold(document: str, expected: int) -> None:
    assert cost(document) == expected


def test_variables_and_fragments_count_with_their_values() -> None:
    document = """query Q($n: Int) {
      one: history(symbol: "A", limit: $n) { ...Closes }
      two: history(symbol: "B", limit: $n) { ...Closes }
    }
    fragment Closes on PriceHistory { bars { close } sma { value } }"""
    assert cost(document, {"n": 100}) == 2 * 100 * 2
    assert cost(document, {"n": None}) == 2 * MAX_BARS * 2


def test_an_operation_over_the_limit_is_refused_before_it_runs() -> None:
    bars = "bars { open high low close volume timestamp }"
    assert refusal(f'{{ history(symbol: "A") {{ {bars} }} }}') is None  # 6,000
    error = refusal(
        f'{{ a: history(symbol: "A") {{ {bars} }} b: history(symbol: "B") {{ {bars} }} }}'
    )
    assert error is not None
    assert error.extensions == {"code": "QUERY_TOO_EXPENSIVE", "cost": 12_000, "limit": 10_000}


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_a_kept_cost_is_the_counted_one(document: str, expected: int) -> None:
    parsed = parse(document)
    (operation,) = parsed.definitions
    assert isinstance(operation, OperationDefinitionNode)
    for _ in range(2):  # counted, then kept (unless it reads today's date)
        assert refusal_of(parsed) is None
    fixed_costs = FIXED_COSTS
    reads_today = "start:" in document and "end:" not in document
    assert fixed_costs.get(operation) == (None if reads_today else expected)


def test_a_cost_that_reads_variables_is_counted_for_each_request() -> None:
    parsed = parse('query ($n: Int) { history(symbol: "A", limit: $n) { bars { close } } }')
    (operation,) = parsed.definitions
    assert isinstance(operation, OperationDefinitionNode)
    assert refusal_of(parsed, {"n": 10}) is None
    assert operation not in FIXED_COSTS
    bars = "bars { open high low close volume timestamp }"
    wide = parse(
        f'query ($n: Int) {{ a: history(symbol: "A", limit: $n) {{ {bars} }} '
        f'b: history(symbol: "B", limit: $n) {{ {bars} }} }}'
    )
    assert refusal_of(wide, {"n": 10}) is None
    error = refusal_of(wide, {"n": 1000})
    assert error is not None
    assert error.extensions is not None
    assert error.extensions["cost"] == 12_000


def test_a_kept_cost_over_the_limit_is_refused_every_time() -> None:
    bars = "bars { open high low close volume timestamp }"
    parsed = parse(
        f'{{ a: history(symbol: "A") {{ {bars} }} b: history(symbol: "B") {{ {bars} }} }}'
    )
    for _ in range(3):
        error = refusal_of(parsed)
        assert error is not None
        assert error.extensions is not None
        assert error.extensions["code"] == "QUERY_TOO_EXPENSIVE"
