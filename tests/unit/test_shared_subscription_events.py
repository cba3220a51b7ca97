"""Subscription events executed once for every subscriber that asks the same."""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from graphql_schema.execution import StockQLExecutionContext
from tests.support.tick_payloads import PrivateTick, Query, Tick

TICK = Tick(symbol="AAPL", price=101.5)
PRIVATE_TICK = PrivateTick(symbol="AAPL", price=101.5)
FAILING = Tick(symbol="AAPL", price=None)  # type: ignore[arg-type]


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, symbol: str) -> AsyncGenerator[Tick, None]:
        yield TICK
        yield FAILING

    @strawberry.subscription
    async def private_ticks(self) -> AsyncGenerator[PrivateTick, None]:
        yield PRIVATE_TICK


SCHEMA = strawberry.Schema(
    query=Query, subscription=Subscription, execution_context_class=StockQLExecutionContext
)


async def results(query: str, variables: dict[str, Any] | None = None) -> list[ExecutionResult]:
    stream = await SCHEMA.subscribe(query, variable_values=variables)
    assert isinstance(stream, AsyncIterator)
    return [result async for result in stream]


async def test_subscribers_asking_the_same_share_one_result_per_event() -> None:
    query = "subscription ($s: String!) { ticks(symbol: $s) { symbol price } }"
    first, second = await results(query, {"s": "AAPL"}), await results(query, {"s": "AAPL"})
    assert first[0].data == {"ticks": {"symbol": "AAPL", "price": 101.5}}
    assert second[0].data is first[0].data


async def test_other_documents_or_variables_are_executed_on_their_own() -> None:
    query = "subscription ($s: String!) { ticks(symbol: $s) { symbol price } }"
    base = await results(query, {"s": "AAPL"})
    other_variables = await results(query, {"s": "MSFT"})
    other_document = await results('subscription { ticks(symbol: "AAPL") { price } }')
    assert other_variables[0].data == base[0].data
    assert other_variables[0].data is not base[0].data
    assert other_document[0].data == {"ticks": {"price": 101.5}}


async def test_unmarked_payloads_and_failed_events_are_not_shared() -> None:
    private = "subscription { privateTicks { symbol price } }"
    assert (await results(private))[0].data is not (await results(private))[0].data
    query = 'subscription { ticks(symbol: "AAPL") { symbol price } }'
    failed, again = (await results(query))[1], (await results(query))[1]
    assert failed.errors
    assert again.errors
    assert failed.errors[0] is not again.errors[0]
