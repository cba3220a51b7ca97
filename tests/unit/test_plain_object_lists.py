"""Lists of plain objects completed in one pass (graphql_schema/execution.py): the same
results as graphql-core's own path, which still handles anything else and every error."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from strawberry.types import ExecutionResult

from graphql_schema import execution
from graphql_schema.execution import StockQLExecutionContext

AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


@dataclass
class Row:
    """Stands in for the domain objects resolvers return (history's bars)."""

    at: datetime
    price: float
    volume: int | None
    symbol: str
    live: bool


@strawberry.type
class Point:
    at: datetime
    price: float
    volume: int | None
    symbol: str
    live: bool

    @strawberry.field
    def doubled(self) -> float:
        return self.price * 2


ROWS = [Row(AT, 100.0 + i, i if i % 2 else None, "AAPL", bool(i % 3)) for i in range(50)]
BROKEN = [*ROWS[:3], Row(AT, None, 1, "AAPL", True)]  # type: ignore[arg-type]


@strawberry.type
class Query:
    @strawberry.field
    def points(self) -> list[Point]:
        return ROWS  # type: ignore[return-value]

    @strawberry.field
    def maybe_points(self) -> list[Point | None]:
        return [*ROWS[:2], None]  # type: ignore[list-item]

    @strawberry.field
    def broken_points(self) -> list[Point]:
        return BROKEN  # type: ignore[return-value]


SCHEMA = strawberry.Schema(query=Query, execution_context_class=StockQLExecutionContext)


async def both_paths(query: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The result with the fast path, then with graphql-core's path only."""
    fast = await SCHEMA.execute(query)
    with monkeypatch.context() as patched:
        patched.setattr(execution, "complete_plain_objects", lambda *args, **kwargs: None)
        general = await SCHEMA.execute(query)
    return fast, general


def shape(result: ExecutionResult) -> tuple[Any, list[tuple[str, Any]]]:
    errors = [(error.message, error.path) for error in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize(
    "query",
    [
        "{ points { at price volume symbol live } }",
        "{ points { __typename when: at p: price ... on Point { symbol } } }",
        "{ points { price doubled } }",  # a resolver of its own: graphql-core's path
        "{ maybePoints { price volume } }",
        "{ brokenPoints { symbol price } }",  # null for a non-null field: reported the same
        "{ points { price @include(if: false) symbol } }",
    ],
)
async def test_results_equal_graphql_cores_own(query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = await both_paths(query, monkeypatch)
    assert shape(fast) == shape(general)


async def test_plain_fields_are_completed_without_graphql_core_per_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    original = StockQLExecutionContext.complete_value

    def counting(self: StockQLExecutionContext, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StockQLExecutionContext, "complete_value", counting)
    result = await SCHEMA.execute("{ points { at price } }")
    assert result.data is not None
    assert result.data["points"][1] == {"at": "2026-03-02T14:30:00+00:00", "price": 101.0}
    assert calls == 2  # the non-null list and the list itself; none per item or field
