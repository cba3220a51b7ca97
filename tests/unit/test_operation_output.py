"""Shared subscription events written straight to the websocket operation through its output
(the operation's root value), each payload encoded once, and what still takes strawberry's
general path."""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
import pytest
import strawberry
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types import ExecutionResult

from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.fanout.operation import (
    OperationOutput,
    legacy_ws_prefix,
    operation_output,
    transport_ws_prefix,
)
from tests.support.tick_payloads import PrivateTick, Query, Tick

TICKS = [Tick(symbol="AAPL", price=100.0 + i) for i in range(3)]
FAILING = Tick(symbol="AAPL", price=None)  # type: ignore[arg-type]


async def offered(info: strawberry.Info, payloads: list[Any]) -> AsyncGenerator[Any, None]:
    """What the project's resolvers do: offer each payload to the operation's output (if
    any), yield what is not taken."""
    output = operation_output(info.root_value)
    for payload in payloads:
        if output is None or not await output.send(payload):
            yield payload


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, info: strawberry.Info) -> AsyncGenerator[Tick, None]:
        async for tick in offered(info, [*TICKS, FAILING, TICKS[0]]):
            yield tick

    @strawberry.subscription
    async def private_ticks(self, info: strawberry.Info) -> AsyncGenerator[PrivateTick, None]:
        ticks = [PrivateTick(symbol="AAPL", price=float(i)) for i in range(3)]
        async for tick in offered(info, ticks):
            yield tick


SCHEMA = strawberry.Schema(
    query=Query, subscription=Subscription, execution_context_class=StockQLExecutionContext
)
TICKS_QUERY = (
    "subscription { t: ticks { __typename price ...Named } } fragment Named on Tick { symbol }"
)


class Connection:
    """Stands in for the websocket: what the operation wrote, as text."""

    def __init__(self, *, fail: bool = False) -> None:
        self.written: list[str] = []
        self.open = True
        self.fail = fail
        self.writable = True

    async def write(self, text: str) -> None:
        if self.fail:
            raise WebSocketDisconnected()
        self.written.append(text)

    def write_now(self, text: str) -> bool:
        if self.writable:
            self.written.append(text)
        return self.writable


async def stream(query: str, output: OperationOutput | None) -> list[ExecutionResult]:
    """The results strawberry's general path produced, run with `output` as the root value
    (as app/websocket_handlers.py runs every websocket operation) or without."""
    source = await SCHEMA.subscribe(query, root_value=output)
    assert isinstance(source, AsyncIterator)
    return [result async for result in source]


def output_to(connection: Connection, prefix: str) -> OperationOutput:
    return OperationOutput(
        prefix=prefix,
        write=connection.write,
        write_now=connection.write_now,
        is_open=lambda: connection.open,
    )


def ticks_data(tick: Tick) -> dict[str, Any]:
    return {"t": {"__typename": "Tick", "price": tick.price, "symbol": tick.symbol}}


async def test_events_after_the_first_are_written_in_the_operations_own_messages() -> None:
    connection = Connection()
    results = await stream(TICKS_QUERY, output_to(connection, transport_ws_prefix('op"1')))
    # The first event shows the executor; the failing one (and only it) is reported as always.
    assert [result.data for result in results[:1]] == [ticks_data(TICKS[0])]
    assert len(results) == 2
    assert results[1].errors
    assert results[1].data is None
    messages = [orjson.loads(text) for text in connection.written]
    assert messages == [
        {"id": 'op"1', "type": "next", "payload": {"data": ticks_data(tick)}}
        for tick in (TICKS[1], TICKS[2], TICKS[0])
    ]


async def test_legacy_protocol_messages_are_data_messages() -> None:
    connection = Connection()
    await stream(TICKS_QUERY, output_to(connection, legacy_ws_prefix("7")))
    assert orjson.loads(connection.written[0]) == {
        "type": "data",
        "id": "7",
        "payload": {"data": ticks_data(TICKS[1])},
    }


async def test_written_payloads_equal_the_general_paths_results() -> None:
    general = await stream(TICKS_QUERY, None)
    connection = Connection()
    await stream(TICKS_QUERY, output_to(connection, transport_ws_prefix("1")))
    written = [orjson.loads(text)["payload"] for text in connection.written]
    expected = [{"data": result.data} for result in general if not result.errors]
    assert written == expected[1:]


async def test_every_subscriber_asking_the_same_gets_one_encoded_payload() -> None:
    first, second = Connection(), Connection()
    await stream(TICKS_QUERY, output_to(first, transport_ws_prefix("1")))
    await stream(TICKS_QUERY, output_to(second, transport_ws_prefix("1")))
    assert first.written == second.written


async def test_unmarked_payload_types_always_take_the_general_path() -> None:
    connection = Connection()
    results = await stream("subscription { privateTicks { price } }", output_to(connection, "{"))
    assert [result.data for result in results] == [
        {"privateTicks": {"price": float(i)}} for i in range(3)
    ]
    assert connection.written == []


async def test_nothing_is_written_once_the_operation_ended_or_the_socket_closed() -> None:
    ended = Connection()
    ended.open = False
    results = await stream(TICKS_QUERY, output_to(ended, transport_ws_prefix("1")))
    assert ended.written == []
    assert len(results) == 2

    closed = Connection(fail=True)
    results = await stream(TICKS_QUERY, output_to(closed, transport_ws_prefix("1")))
    assert closed.written == []
    assert len(results) == 2


@pytest.mark.parametrize("query", [TICKS_QUERY, "subscription { ticks { price } }"])
async def test_without_a_direct_output_every_event_is_yielded(query: str) -> None:
    results = await stream(query, None)
    assert len(results) == 5


async def test_events_handed_off_by_the_bus_are_written_at_once_once_the_executor_is_known() -> (
    None
):
    connection = Connection()
    output = output_to(connection, transport_ws_prefix("1"))
    tick = Tick(symbol="MSFT", price=7.0)
    assert not output.send_now(tick)  # no executor attached yet
    await stream(TICKS_QUERY, output)  # the first event attached it
    written = len(connection.written)
    assert output.send_now(tick)
    assert orjson.loads(connection.written[written]) == {
        "id": "1",
        "type": "next",
        "payload": {"data": ticks_data(tick)},
    }
    connection.writable = False  # flow control: left to the operation's task
    assert not output.send_now(Tick(symbol="MSFT", price=8.0))
    assert not output.send_now(PrivateTick(symbol="MSFT", price=9.0))
    connection.writable, connection.open = True, False
    assert output.send_now(Tick(symbol="MSFT", price=10.0))  # ended: dropped
    assert len(connection.written) == written + 1


async def test_a_sender_leaves_events_to_the_task_until_the_executor_attached() -> None:
    def aapl_at(price: float) -> Tick:
        return Tick(symbol="AAPL", price=price)

    connection = Connection()
    output = output_to(connection, transport_ws_prefix("1"))
    sender = output.sender(aapl_at)
    assert not sender(1.0)
    await stream(TICKS_QUERY, output)
    written = len(connection.written)
    assert sender(2.0)
    assert orjson.loads(connection.written[written])["payload"] == {
        "data": ticks_data(aapl_at(2.0))
    }


async def test_operations_with_outputs_of_their_own_write_only_their_own_messages() -> None:
    """Two operations running at once, as on one connection: each executor attaches to the
    output it was run with, whatever ran in between."""
    first, second = Connection(), Connection()
    outputs = [
        output_to(first, transport_ws_prefix("a")),
        output_to(second, transport_ws_prefix("b")),
    ]
    sources = [await SCHEMA.subscribe(TICKS_QUERY, root_value=output) for output in outputs]
    assert all(isinstance(source, AsyncIterator) for source in sources)
    for source in sources:  # interleaved: each one's first event, then the rest
        await anext(source)
    for source in sources:
        async for _ in source:
            pass
    assert {orjson.loads(text)["id"] for text in first.written} == {"a"}
    assert {orjson.loads(text)["id"] for text in second.written} == {"b"}
    assert len(first.written) == len(second.written) == 3
