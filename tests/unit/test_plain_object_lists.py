"""Lists of plain objects completed in one pass (graphql_schema/execution.py): the same
results as graphql-core's own path, which still handles anything else and every error."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import strawberry
from strawberry.types import ExecutionResult

from domain import market as domain
from graphql_schema import execution
from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.types import market

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


def count_completions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list that counts graphql-core's complete_value calls from now on."""
    calls = [0]
    original = StockQLExecutionContext.complete_value

    def counting(self: StockQLExecutionContext, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StockQLExecutionContext, "complete_value", counting)
    return calls


async def test_plain_fields_are_completed_without_graphql_core_per_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = count_completions(monkeypatch)
    result = await SCHEMA.execute("{ points { at price } }")
    assert result.data is not None
    assert result.data["points"][1] == {"at": "2026-03-02T14:30:00+00:00", "price": 101.0}
    assert calls == [2]  # the non-null list and the list itself; none per item or field


@strawberry.type
class BarsQuery:
    @strawberry.field
    def bars(self) -> list[market.Bar]:
        bars = [
            domain.Bar(AT, 100.0, 101.0, 99.0, 100.5, 300.0, trades=12, vwap=100.25),
            domain.Bar(AT, 100.0, 101.0, 99.0, 100.5, 300.0),
        ]
        return cast(list[market.Bar], bars)


async def test_history_bars_with_trade_count_and_vwap_take_the_one_pass_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = strawberry.Schema(query=BarsQuery, execution_context_class=StockQLExecutionContext)
    calls = count_completions(monkeypatch)
    result = await schema.execute("{ bars { close volume trades vwap } }")
    assert result.errors is None
    assert result.data == {
        "bars": [
            {"close": 100.5, "volume": 300.0, "trades": 12, "vwap": 100.25},
            {"close": 100.5, "volume": 300.0, "trades": None, "vwap": None},
        ]
    }
    assert calls == [2]
