"""Subscription events executed once for every subscriber that asks the same."""

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from domain import events
from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.types.realtime import PredictionUpdate, StockPriceUpdate
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


# What resolvers/realtime.py does: each subscriber's generator converts the one event it
# received with the payload type's `from_domain`. Sharing is keyed by the payload's identity,
# so it rests on `from_domain` returning the same object for the same event
# (graphql_schema/fanout/payloads.py's `one_payload_per_event`): without it, this test fails.
PRICE_EVENT = events.PriceUpdated(
    symbol="AAPL", price=101.5, timestamp=datetime(2026, 12, 4, 15, 30, tzinfo=UTC), sequence="1-0"
)
PREDICTION_EVENT = events.PredictionMade(
    symbol="AAPL",
    recommendation="BUY",
    confidence=0.61,
    prediction_id="42",
    timestamp=datetime(2026, 12, 4, 15, 30, tzinfo=UTC),
)


@strawberry.type
class RealPayloadSubscription:
    @strawberry.subscription
    async def stock_price(self) -> AsyncGenerator[StockPriceUpdate, None]:
        yield StockPriceUpdate.from_domain(PRICE_EVENT)

    @strawberry.subscription
    async def predictions(self) -> AsyncGenerator[PredictionUpdate, None]:
        yield PredictionUpdate.from_domain(PREDICTION_EVENT)


REAL_PAYLOAD_SCHEMA = strawberry.Schema(
    query=Query,
    subscription=RealPayloadSubscription,
    execution_context_class=StockQLExecutionContext,
)


async def real_payload_results(query: str) -> list[ExecutionResult]:
    stream = await REAL_PAYLOAD_SCHEMA.subscribe(query)
    assert isinstance(stream, AsyncIterator)
    return [result async for result in stream]


async def test_subscribers_converting_the_same_event_share_its_result() -> None:
    for query in (
        "subscription { stockPrice { symbol price sequence } }",
        "subscription { predictions { symbol prediction confidence } }",
    ):
        first, second = await real_payload_results(query), await real_payload_results(query)
        assert first[0].errors is None
        assert second[0].data is first[0].data, query
