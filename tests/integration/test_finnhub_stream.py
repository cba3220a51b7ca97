"""FinnhubFeed against a local fake that speaks Finnhub's websocket protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from app.adapters.streams._websocket_feed import SymbolLimitExceeded
from app.adapters.streams.finnhub import FinnhubFeed
from app.metrics import Metrics
from domain.streaming import Trade
from tests.support.fake_finnhub import TOO_MANY_SYMBOLS, FakeFinnhub
from tests.support.streams import RecordingConsumer, quick_options, sample

AT_MS = 1_765_117_800_123  # 2025-12-07T14:30:00.123Z


@pytest.fixture
async def fake() -> AsyncIterator[FakeFinnhub]:
    async with FakeFinnhub(max_symbols=3) as fake:
        yield fake


def feed_for(
    fake: FakeFinnhub, http_session: aiohttp.ClientSession, metrics: Metrics, **options: object
) -> FinnhubFeed:
    settings: dict[str, object] = {
        "session": http_session,
        "api_key": fake.api_key,
        "url": fake.url,
        "options": quick_options(),
        "metrics": metrics,
    }
    settings.update(options)
    return FinnhubFeed(**settings)  # type: ignore[arg-type]


@pytest.fixture
async def running(
    fake: FakeFinnhub, http_session: aiohttp.ClientSession, metrics: Metrics
) -> AsyncIterator[tuple[FinnhubFeed, RecordingConsumer]]:
    feed = feed_for(fake, http_session, metrics)
    consumer = RecordingConsumer()
    await feed.follow(frozenset({"AAPL", "MSFT"}))
    task = asyncio.create_task(feed.run(consumer))
    try:
        await fake.wait_subscribed({"AAPL", "MSFT"})
        yield feed, consumer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_trades_of_followed_symbols_arrive_with_their_own_time(
    running: tuple[FinnhubFeed, RecordingConsumer], fake: FakeFinnhub, metrics: Metrics
) -> None:
    _, consumer = running
    await fake.send_trades([("AAPL", 189.5, 100, AT_MS), ("MSFT", 410.25, 0.5, AT_MS + 1)])
    await consumer.wait_for(lambda: len(consumer.trades) == 2)
    assert consumer.trades == [
        Trade("AAPL", 189.5, 100.0, datetime(2025, 12, 7, 14, 30, 0, 123000, tzinfo=UTC)),
        Trade("MSFT", 410.25, 0.5, datetime(2025, 12, 7, 14, 30, 0, 124000, tzinfo=UTC)),
    ]
    assert consumer.connections == [(frozenset({"AAPL", "MSFT"}), False)]
    assert sample(metrics, "stockql_stream_messages_total", provider="finnhub") >= 1


async def test_pings_are_taken_and_the_connection_stays(
    running: tuple[FinnhubFeed, RecordingConsumer], fake: FakeFinnhub
) -> None:
    feed, consumer = running
    await fake.ping()
    await fake.send_trades([("AAPL", 1.0, 1, AT_MS)])
    await consumer.wait_for(lambda: len(consumer.trades) == 1)
    assert feed.pings == 1
    assert consumer.problems == []
    assert fake.connections_opened == 1


async def test_the_subscription_changes_at_run_time_without_reconnecting(
    running: tuple[FinnhubFeed, RecordingConsumer], fake: FakeFinnhub
) -> None:
    feed, _ = running
    await feed.follow(frozenset({"MSFT", "TSLA"}))
    await fake.wait_subscribed({"MSFT", "TSLA"})
    assert fake.requests[-2:] == [
        {"type": "unsubscribe", "symbol": "AAPL"},
        {"type": "subscribe", "symbol": "TSLA"},
    ]
    assert fake.connections_opened == 1


async def test_a_dropped_connection_is_resumed_and_resubscribed(
    running: tuple[FinnhubFeed, RecordingConsumer], fake: FakeFinnhub, metrics: Metrics
) -> None:
    feed, consumer = running
    await feed.follow(frozenset({"AAPL", "MSFT", "TSLA"}))
    await fake.wait_subscribed({"AAPL", "MSFT", "TSLA"})
    await fake.drop()
    await fake.wait_connections(2)
    await fake.wait_subscribed({"AAPL", "MSFT", "TSLA"})
    await consumer.wait_for(lambda: len(consumer.connections) == 2)
    assert consumer.connections[-1] == (frozenset({"AAPL", "MSFT", "TSLA"}), True)
    assert "disconnected" in consumer.problem_codes
    assert sample(metrics, "stockql_stream_reconnects_total", provider="finnhub") == 1
    await fake.send_trades([("TSLA", 250.0, 3, AT_MS)])
    await consumer.wait_for(lambda: [t.symbol for t in consumer.trades] == ["TSLA"])


async def test_more_symbols_than_the_limit_are_refused_before_anything_is_sent(
    running: tuple[FinnhubFeed, RecordingConsumer], fake: FakeFinnhub
) -> None:
    feed, _ = running
    sent = len(fake.requests)
    with pytest.raises(SymbolLimitExceeded, match="at most 3 symbols") as refused:
        await feed.follow(frozenset({"AAPL", "MSFT", "TSLA", "GOOG"}))
    assert refused.value.code == "symbol_limit"
    assert len(fake.requests) == sent
    assert feed.subscribed == {"AAPL", "MSFT"}


async def test_the_providers_symbol_limit_error_is_reported_not_raised(
    fake: FakeFinnhub, http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    # Our limit above the plan's: the server refuses the fourth symbol with an error message.
    feed = feed_for(fake, http_session, metrics, options=quick_options(None))
    consumer = RecordingConsumer()
    await feed.follow(frozenset({"AAPL", "MSFT", "TSLA", "GOOG"}))
    task = asyncio.create_task(feed.run(consumer))
    try:
        await consumer.wait_for(lambda: "symbol_limit" in consumer.problem_codes)
        assert TOO_MANY_SYMBOLS in str(consumer.problems[0])
        assert fake.open_connections == 1
        await fake.error("Invalid symbol NOPE")  # Finnhub's message for an unknown symbol
        await consumer.wait_for(lambda: "unknown_symbol" in consumer.problem_codes)
        await fake.error("something else went wrong")
        await consumer.wait_for(lambda: "error" in consumer.problem_codes)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refused_key_is_a_fatal_problem_that_names_no_key(
    fake: FakeFinnhub, http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    feed = feed_for(fake, http_session, metrics, api_key="wrong-key-123")
    consumer = RecordingConsumer()
    await asyncio.wait_for(feed.run(consumer), 5)
    [problem] = consumer.problems
    assert (problem.code, problem.fatal) == ("auth", True)
    assert "wrong-key-123" not in str(problem)
    assert fake.refused == [401]


async def test_a_second_connection_of_the_key_is_refused_and_retried(
    fake: FakeFinnhub, http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    first = feed_for(fake, http_session, metrics)
    first_task = asyncio.create_task(first.run(RecordingConsumer()))
    await fake.wait_connections(1)
    second = feed_for(fake, http_session, metrics)
    consumer = RecordingConsumer()
    second_task = asyncio.create_task(second.run(consumer))
    try:
        await consumer.wait_for(lambda: consumer.problem_codes.count("connection_limit") >= 2)
        first_task.cancel()
        await asyncio.gather(first_task, return_exceptions=True)
        await consumer.wait_for(lambda: len(consumer.connections) == 1)
    finally:
        second_task.cancel()
        await asyncio.gather(second_task, return_exceptions=True)


async def test_unreadable_messages_are_reported_and_skipped(
    running: tuple[FinnhubFeed, RecordingConsumer], fake: FakeFinnhub
) -> None:
    _, consumer = running
    await fake.send_raw("not json")
    await fake.send_raw('{"type":"trade","data":[{"s":"AAPL"}]}')
    await fake.send_trades([("AAPL", 2.0, 1, AT_MS)])
    await consumer.wait_for(lambda: len(consumer.trades) == 1)
    assert consumer.problem_codes == ["bad_message", "bad_message"]
