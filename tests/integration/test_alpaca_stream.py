"""AlpacaFeed against a local fake that speaks Alpaca's market data stream protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from app.adapters.streams._websocket_feed import SymbolLimitExceeded
from app.adapters.streams.alpaca import ERRORS, AlpacaFeed, problem_of
from app.metrics import Metrics
from domain.streaming import MinuteBar, Trade
from tests.support.fake_alpaca import FakeAlpacaStream
from tests.support.streams import RecordingConsumer, quick_options, sample

AT = datetime(2026, 12, 7, 14, 30, 5, 250000, tzinfo=UTC)
MINUTE = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAlpacaStream]:
    async with FakeAlpacaStream(max_symbols=3) as fake:
        yield fake


def feed_for(
    fake: FakeAlpacaStream, http_session: aiohttp.ClientSession, metrics: Metrics, **options: object
) -> AlpacaFeed:
    settings: dict[str, object] = {
        "session": http_session,
        "key_id": fake.key_id,
        "secret_key": fake.secret_key,
        "url": fake.url,
        "options": quick_options(),
        "metrics": metrics,
    }
    settings.update(options)
    return AlpacaFeed(**settings)  # type: ignore[arg-type]


async def started(feed: AlpacaFeed, consumer: RecordingConsumer) -> asyncio.Task[None]:
    await feed.follow(frozenset({"AAPL", "MSFT"}))
    return asyncio.create_task(feed.run(consumer))


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def running(
    fake: FakeAlpacaStream, http_session: aiohttp.ClientSession, metrics: Metrics
) -> AsyncIterator[tuple[AlpacaFeed, RecordingConsumer]]:
    feed = feed_for(fake, http_session, metrics)
    consumer = RecordingConsumer()
    task = await started(feed, consumer)
    try:
        await fake.wait_subscribed({"AAPL", "MSFT"})
        await consumer.wait_for(lambda: feed.acknowledged == {"AAPL", "MSFT"})
        yield feed, consumer
    finally:
        await stopped(task)


async def test_it_authenticates_then_subscribes_to_trades_and_bars(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    _, consumer = running
    auth, subscribe = fake.requests
    assert auth == {"action": "auth", "key": fake.key_id, "secret": fake.secret_key}
    assert subscribe == {
        "action": "subscribe",
        "trades": ["AAPL", "MSFT"],
        "bars": ["AAPL", "MSFT"],
        "updatedBars": ["AAPL", "MSFT"],
    }
    assert consumer.connections == [(frozenset({"AAPL", "MSFT"}), False)]


async def test_trades_arrive_with_their_nanosecond_time_cut_to_microseconds(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream, metrics: Metrics
) -> None:
    _, consumer = running
    await fake.send_trades([("AAPL", 189.5, 100, AT), ("MSFT", 410.0, 1, AT), ("TSLA", 1, 1, AT)])
    await consumer.wait_for(lambda: len(consumer.trades) == 2)
    assert consumer.trades == [Trade("AAPL", 189.5, 100.0, AT), Trade("MSFT", 410.0, 1.0, AT)]
    assert sample(metrics, "stockql_stream_messages_total", provider="alpaca") >= 4


async def test_minute_bars_and_updated_bars_are_handed_over(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    _, consumer = running
    await fake.send_bar("AAPL", MINUTE, (189.0, 190.0, 188.5, 189.5), 1200, 14, 189.3)
    await fake.send_bar("AAPL", MINUTE, (189.0, 191.0, 188.5, 189.5), 1300, 15, 189.4, updated=True)
    await consumer.wait_for(lambda: len(consumer.bars) == 2)
    assert consumer.bars == [
        MinuteBar("AAPL", MINUTE, 189.0, 190.0, 188.5, 189.5, 1200.0, 14, 189.3),
        MinuteBar("AAPL", MINUTE, 189.0, 191.0, 188.5, 189.5, 1300.0, 15, 189.4),
    ]


async def test_a_bar_without_trade_count_or_vwap_is_handed_over_without_them(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    _, consumer = running
    await fake.send_bar("AAPL", MINUTE, (189.0, 190.0, 188.5, 189.5), 1200, None, None)
    await consumer.wait_for(lambda: len(consumer.bars) == 1)
    assert consumer.bars == [
        MinuteBar("AAPL", MINUTE, 189.0, 190.0, 188.5, 189.5, 1200.0, None, None)
    ]


async def test_the_subscription_changes_at_run_time_and_is_acknowledged(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    feed, consumer = running
    await feed.follow(frozenset({"MSFT", "TSLA"}))
    await fake.wait_subscribed({"MSFT", "TSLA"})
    await consumer.wait_for(lambda: feed.acknowledged == {"MSFT", "TSLA"})
    assert [(r["action"], r["trades"]) for r in fake.requests[-2:]] == [
        ("unsubscribe", ["AAPL"]),
        ("subscribe", ["TSLA"]),
    ]
    assert fake.connections_opened == 1


async def test_a_slow_client_drop_is_reported_and_the_feed_resubscribes(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream, metrics: Metrics
) -> None:
    _, consumer = running
    await fake.slow_client()
    await fake.wait_connections(2)
    await fake.wait_subscribed({"AAPL", "MSFT"})
    await consumer.wait_for(lambda: len(consumer.connections) == 2)
    assert consumer.problem_codes[:2] == ["slow_client", "disconnected"]
    assert consumer.connections[-1] == (frozenset({"AAPL", "MSFT"}), True)
    assert sample(metrics, "stockql_stream_reconnects_total", provider="alpaca") == 1
    await fake.send_trades([("MSFT", 411.0, 2, AT)])
    await consumer.wait_for(lambda: len(consumer.trades) == 1)


async def test_a_dropped_connection_is_resumed_and_resubscribed(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    feed, consumer = running
    await feed.follow(frozenset({"TSLA"}))
    await fake.wait_subscribed({"TSLA"})
    await fake.drop()
    await fake.wait_connections(2)
    await fake.wait_subscribed({"TSLA"})
    await consumer.wait_for(lambda: consumer.connections[-1] == (frozenset({"TSLA"}), True))


async def test_refused_credentials_are_fatal_and_name_no_secret(
    fake: FakeAlpacaStream, http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    feed = feed_for(fake, http_session, metrics, secret_key="wrong-secret-456")
    consumer = RecordingConsumer()
    await asyncio.wait_for(feed.run(consumer), 5)
    [problem] = consumer.problems
    assert (problem.code, problem.fatal) == ("auth", True)
    assert "402" in str(problem)
    assert "wrong-secret-456" not in str(problem)
    assert fake.connections_opened == 1


async def test_an_auth_timeout_is_reported_and_retried(
    http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    async with FakeAlpacaStream(auth_timeout=0.0) as fake:
        consumer = RecordingConsumer()
        task = await started(feed_for(fake, http_session, metrics), consumer)
        try:
            await consumer.wait_for(lambda: consumer.problem_codes.count("auth_timeout") >= 2)
        finally:
            await stopped(task)
    assert 404 in fake.errors_sent


async def test_a_second_connection_is_refused_with_406_and_retried(
    running: tuple[AlpacaFeed, RecordingConsumer],
    fake: FakeAlpacaStream,
    http_session: aiohttp.ClientSession,
    metrics: Metrics,
) -> None:
    consumer = RecordingConsumer()
    task = await started(feed_for(fake, http_session, metrics), consumer)
    try:
        await consumer.wait_for(lambda: consumer.problem_codes.count("connection_limit") >= 2)
        assert consumer.connections == []
        assert fake.authenticated_connections == 1
    finally:
        await stopped(task)


async def test_the_providers_symbol_limit_is_reported_and_the_connection_stays(
    fake: FakeAlpacaStream, http_session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    feed = feed_for(fake, http_session, metrics, options=quick_options(None))
    consumer = RecordingConsumer()
    task = await started(feed, consumer)
    try:
        await fake.wait_subscribed({"AAPL", "MSFT"})
        await feed.follow(frozenset({"AAPL", "MSFT", "TSLA", "GOOG"}))
        await consumer.wait_for(lambda: "symbol_limit" in consumer.problem_codes)
        assert feed.subscribed == {"AAPL", "MSFT"}
        assert fake.connections_opened == 1
    finally:
        await stopped(task)


async def test_our_own_symbol_limit_refuses_before_sending(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    feed, _ = running
    sent = len(fake.requests)
    with pytest.raises(SymbolLimitExceeded):
        await feed.follow(frozenset({"A", "B", "C", "D"}))
    assert len(fake.requests) == sent


async def test_unreadable_messages_are_reported_and_skipped(
    running: tuple[AlpacaFeed, RecordingConsumer], fake: FakeAlpacaStream
) -> None:
    _, consumer = running
    await fake.send_raw("{not json")
    await fake.send_raw('[{"T":"t","S":"AAPL","p":"x"}]')
    await fake.send_trades([("AAPL", 2.0, 1, AT)])
    await consumer.wait_for(lambda: len(consumer.trades) == 1)
    assert consumer.problem_codes == ["bad_message", "bad_message"]


@pytest.mark.parametrize(
    ("number", "code", "fatal"),
    [
        (401, "not_authenticated", False),
        (402, "auth", True),
        (404, "auth_timeout", False),
        (405, "symbol_limit", False),
        (406, "connection_limit", False),
        (407, "slow_client", False),
        (409, "insufficient_subscription", True),
        (999, "error", False),
    ],
)
def test_error_codes_have_their_documented_meaning(number: int, code: str, fatal: bool) -> None:
    problem = problem_of({"T": "error", "code": number, "msg": "m"})
    assert (problem.code, problem.fatal) == (code, fatal)
    assert number in ERRORS or number == 999
