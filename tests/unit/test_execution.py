"""StockQLExecutionContext: lists of scalars complete exactly as graphql-core's own path does."""

import enum
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, NewType

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.utils.str_converters import to_camel_case

from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.scalars import scalar_map

# A scalar whose coercion may return null, which graphql-core reports as an error.
Sparse = NewType("Sparse", int)
SPARSE = strawberry.scalar(name="Sparse", serialize=lambda value: value or None, parse_value=int)


@strawberry.enum
class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


@strawberry.type
class Query:
    floats: list[float] | None
    optional_floats: list[float | None] | None
    times: list[datetime] | None
    optional_times: list[datetime | None] | None
    ints: list[int] | None
    strings: list[str] | None
    sides: list[Side] | None
    sparse: list[Sparse | None] | None
    grid: list[list[float]] | None


FIELDS = list(Query.__annotations__)


async def resolved(value: object) -> object:
    return value


class Label:
    def __str__(self) -> str:
        return "label"


class QuoteMissing(Exception):
    pass


T0 = datetime(2024, 5, 3, tzinfo=UTC)

# field -> a factory of its value (fresh each run: some hold coroutines).
CASES: dict[str, tuple[str, Callable[[], object]]] = {
    "floats": ("floats", lambda: [1.5, 2, True, -0.0, 1e300, 7]),
    "floats as a tuple": ("floats", lambda: (1.0, 2.0)),
    "empty floats": ("floats", list),
    "datetimes": (
        "times",
        lambda: [
            T0,
            T0 + timedelta(microseconds=120_000),
            datetime(2024, 5, 3, 9, 30),  # noqa: DTZ001 - naive is taken as UTC
            datetime(2024, 5, 3, 16, tzinfo=timezone(timedelta(hours=2))),
        ],
    ),
    "nullable floats": ("optional_floats", lambda: [1.0, None, 3.0, None]),
    "nullable datetimes": ("optional_times", lambda: [None, T0, None]),
    "only nulls": ("optional_floats", lambda: [None, None]),
    "NaN in non-null floats": ("floats", lambda: [1.0, math.nan, 3.0]),
    "infinity in nullable floats": ("optional_floats", lambda: [1.0, math.inf, None, -math.inf]),
    "text in floats": ("floats", lambda: [1.0, "2.5", "abc"]),
    "null in non-null floats": ("floats", lambda: [1.0, None]),
    "text in datetimes": ("times", lambda: [T0, "2024-05-03"]),
    "text in nullable datetimes": ("optional_times", lambda: [T0, "yesterday", None]),
    "int out of range": ("ints", lambda: [1, 2**40, True]),
    "exception item": ("optional_floats", lambda: [1.0, ValueError("boom"), 2.0]),
    # String coerces non-builtin objects with str(): the exception must be raised instead.
    "exception item in strings": ("strings", lambda: ["a", QuoteMissing("no quote")]),
    "awaitable item": ("optional_floats", lambda: [1.0, resolved(2.0), resolved(None)]),
    "decimal item": ("floats", lambda: [Decimal("1.25"), 2.0]),
    "object with __str__": ("strings", lambda: ["a", Label(), 3, 2.5, False]),
    "generator": ("floats", lambda: (value / 2 for value in range(4))),
    "enum values": ("sides", lambda: [Side.BUY, Side.SELL]),
    "coercion to null": ("sparse", lambda: [1, 0, None, 2]),
    "nested lists": ("grid", lambda: [[1.0, 2.0], [], [math.nan]]),
}


def make_schema(context_class: type[StockQLExecutionContext] | None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(scalar_map=scalar_map() | {Sparse: SPARSE}),
        execution_context_class=context_class,
    )


STOCK = make_schema(None)
FAST = make_schema(StockQLExecutionContext)


async def run(schema: strawberry.Schema, field: str, value: object) -> tuple[Any, list[Any]]:
    root = Query(**dict.fromkeys(FIELDS) | {field: value})
    result = await schema.execute(f"{{ {to_camel_case(field)} }}", root_value=root)
    assert result.data is not None, result.errors  # executed, not refused by validation
    return result.data, [error.formatted for error in result.errors or []]


@pytest.mark.parametrize(("field", "factory"), CASES.values(), ids=CASES.keys())
async def test_fast_path_completes_lists_like_graphql_core(
    field: str, factory: Callable[[], object]
) -> None:
    assert await run(FAST, field, factory()) == await run(STOCK, field, factory())


class CountingContext(StockQLExecutionContext):
    items: ClassVar[int] = 0

    def complete_list_item_value(self, *args: Any) -> bool:
        CountingContext.items += 1
        return super().complete_list_item_value(*args)


@pytest.mark.parametrize(
    ("field", "value", "items_one_by_one"),
    [
        ("floats", [1.0, 2.0, 3.0], 0),
        ("optional_times", [T0, None], 0),
        ("optional_floats", [1.0, math.nan, 3.0], 3),
        ("floats", [Decimal(1), 2.0], 2),
    ],
)
async def test_only_lists_of_plain_values_that_coerce_cleanly_skip_item_completion(
    field: str, value: list[object], items_one_by_one: int
) -> None:
    CountingContext.items = 0
    await run(make_schema(CountingContext), field, value)
    assert CountingContext.items == items_one_by_one
