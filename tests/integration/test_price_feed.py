"""Price feeds on Redis Streams and in memory: sequences, replay after a sequence, capping,
latest, publishing; the codec; and replay-then-live as the stockPrice subscription uses it."""

from __future__ import annotations

import asyncio
import re
import uuid
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime

import pytest
import redis.asyncio as aioredis

from app.adapters.events.bus import open_event_bus
from app.adapters.events.price_feed import MemoryPriceFeed, RedisPriceFeed, stream_key
from domain import price_replay as replay
from domain.errors import InvalidInput, UpstreamUnavailable
from domain.events import ALL_STOCKS_CHANNEL, PriceFeed, PriceUpdated, stock_channel
from domain.price_codec import decode_price, encode_price
from domain.price_replay import replay_then_live
from domain.sequences import parse_sequence
from tests.support.price_feeds import ARRIVAL, MAX_LENGTH, START, Subject, append, take, tick

# Approximate trimming (MAXLEN ~) removes whole stream nodes: at most 100 entries by default.
REDIS_NODE = 100


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sequences(events: list[PriceUpdated]) -> list[str]:
    return [event.sequence for event in events]


async def test_sequences_strictly_increase_in_the_stream_id_form(
    subject: Subject, symbol: str
) -> None:
    stored = await append(subject.feed, symbol, 20)
    assert all(re.fullmatch(r"[0-9]+-[0-9]+", event.sequence) for event in stored)
    keys = [parse_sequence(event.sequence) for event in stored]
    assert keys == sorted(set(keys))


async def test_an_appended_event_comes_back_with_its_sequence(
    subject: Subject, symbol: str
) -> None:
    event = tick(symbol, 1)
    stored = await subject.feed.append(event)
    assert stored.sequence
    assert stored == replace(event, sequence=stored.sequence)


async def test_after_returns_exactly_the_later_events_in_order(
    subject: Subject, symbol: str
) -> None:
    stored = await append(subject.feed, symbol, 10)
    assert await subject.feed.after(symbol, stored[3].sequence) == stored[4:]
    assert await subject.feed.after(symbol, stored[3].sequence, limit=3) == stored[4:7]
    assert await subject.feed.after(symbol, "0-0") == stored
    assert await subject.feed.after(symbol, stored[-1].sequence) == []
    assert await subject.feed.after(f"{symbol}X", "0-0") == []


@pytest.mark.parametrize(
    "sequence",
    [
        "",
        "abc",
        "12",
        "1-",
        "-1",
        "1-2-3",
        " 1-2",
        "1-2 ",
        "1.5-0",
        "\u0661-\u0660",  # Arabic-Indic digits
        "1-18446744073709551616",
    ],
)
async def test_a_malformed_sequence_is_invalid_input(
    subject: Subject, symbol: str, sequence: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await subject.feed.after(symbol, sequence)
    assert raised.value.field == "after"


async def test_latest_is_the_newest_event_or_none(subject: Subject, symbol: str) -> None:
    assert await subject.feed.latest(symbol) is None
    stored = await append(subject.feed, symbol, 3)
    assert await subject.feed.latest(symbol) == stored[-1]


async def test_latest_read_by_many_at_once_is_each_symbols_own_newest(
    subject: Subject, symbol: str
) -> None:
    symbols = [f"{symbol}{letter}" for letter in "ABCD"]
    newest = {
        name: (await append(subject.feed, name, 2 + number))[-1]
        for number, name in enumerate(symbols[:3])
    }
    asked = [name for name in symbols for _ in range(25)]
    answers = await asyncio.gather(*(subject.feed.latest(name) for name in asked))
    assert answers == [newest.get(name) for name in asked]


async def test_the_feed_keeps_about_max_length_newest_events(subject: Subject, symbol: str) -> None:
    stored = await append(subject.feed, symbol, MAX_LENGTH * 6)
    kept = await subject.feed.after(symbol, "0-0", limit=len(stored))
    assert kept == stored[-len(kept) :]
    if isinstance(subject.feed, MemoryPriceFeed):
        assert len(kept) == MAX_LENGTH
    else:
        assert MAX_LENGTH <= len(kept) <= MAX_LENGTH + REDIS_NODE


async def test_the_redis_stream_is_named_after_the_symbol(redis_url: str, symbol: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async with open_event_bus(redis_url) as bus:
            stored = await RedisPriceFeed(client, bus).append(tick(symbol, 1))
        entries = await client.xrange(stream_key(symbol))
        assert entries is not None
        [(entry_id, _)] = entries
        assert isinstance(entry_id, bytes)
        assert entry_id.decode() == stored.sequence
        assert stream_key(symbol) == f"stockql:stream:{symbol}"
    finally:
        await client.aclose()


async def test_append_publishes_on_the_symbol_and_all_stocks_channels(
    subject: Subject, symbol: str
) -> None:
    async with (
        subject.bus.subscribe(stock_channel(symbol)) as on_symbol,
        subject.bus.subscribe(ALL_STOCKS_CHANNEL) as on_all,
    ):
        stored = await subject.feed.append(tick(symbol, 1))
        async with asyncio.timeout(ARRIVAL):
            assert decode_price(await anext(aiter(on_symbol))) == stored
            # Other runs may publish on the shared all-stocks channel too.
            while (event := decode_price(await anext(aiter(on_all)))).symbol != symbol:
                pass
        assert event == stored


async def test_the_memory_feed_compares_sequences_as_numbers(symbol: str) -> None:
    async with open_event_bus(None) as bus:
        clock = FakeClock(0.999)
        feed = MemoryPriceFeed(bus, clock=clock)
        before = await feed.append(tick(symbol, 0))
        clock.now = 1.0
        after = await feed.append(tick(symbol, 1))
        assert (before.sequence, after.sequence) == ("999-0", "1000-0")
        assert await feed.after(symbol, "999-0") == [after]
        # Within one millisecond, and with a clock going back, the counter counts on.
        clock.now = 0.5
        same = await append(feed, symbol, 11, first=2)
        assert sequences(same)[-2:] == ["1000-10", "1000-11"]
        assert await feed.after(symbol, "1000-9") == same[-2:]


def test_an_event_survives_encoding_and_decoding() -> None:
    full = PriceUpdated("AAPL", 187.5, START, volume=1e6, change=-1.25, change_percent=-0.66)
    bare = PriceUpdated("MSFT", 410.0, datetime(2026, 3, 2, 9, 30), sequence="1-0")  # noqa: DTZ001
    for event in (full, bare, PriceUpdated("X", 1.0, START, sequence="1700000000000-3")):
        assert decode_price(encode_price(event)) == event


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"symbol": "AAPL"}',
        b'{"symbol": 1, "price": 1.0, "timestamp": "2026-03-02T14:30:00+00:00"}',
        b'{"symbol": "AAPL", "price": true, "timestamp": "2026-03-02T14:30:00+00:00"}',
        b'{"symbol": "AAPL", "price": 1.0, "timestamp": "yesterday"}',
    ],
)
def test_decoding_anything_else_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        decode_price(data)


class DelegatingFeed:
    """A PriceFeed passing every call on to `feed`, for tests to step in."""

    def __init__(self, feed: PriceFeed) -> None:
        self.feed = feed

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        return await self.feed.append(event)

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        return await self.feed.after(symbol, sequence, limit=limit)

    async def latest(self, symbol: str) -> PriceUpdated | None:
        return await self.feed.latest(symbol)


class RacingFeed(DelegatingFeed):
    """One event is appended just before the first replay read: it is then both replayed
    and live, as when an append races with a subscriber starting."""

    def __init__(self, feed: PriceFeed, racer: PriceUpdated) -> None:
        super().__init__(feed)
        self._racer: PriceUpdated | None = racer
        self.raced: PriceUpdated | None = None

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        if self._racer is not None:
            self.raced = await self.feed.append(self._racer)
            self._racer = None
        return await super().after(symbol, sequence, limit=limit)


class WatchedFeed(DelegatingFeed):
    """Tells when `latest` was read: the subscription is ready by then."""

    def __init__(self, feed: PriceFeed) -> None:
        super().__init__(feed)
        self.latest_read = asyncio.Event()

    async def latest(self, symbol: str) -> PriceUpdated | None:
        latest = await super().latest(symbol)
        self.latest_read.set()
        return latest


async def test_replay_then_live_has_no_gap_and_no_duplicate(subject: Subject, symbol: str) -> None:
    stored = await append(subject.feed, symbol, 5)
    racing = RacingFeed(subject.feed, tick(symbol, 5))
    async with aclosing(
        replay_then_live(racing, subject.bus, symbol, stored[0].sequence)
    ) as events:
        # Subscribed, then read the feed: the racer was appended in between.
        received = await take(events, 1)
        assert racing.raced is not None
        stored.append(racing.raced)
        # Appended while the consumer is busy with the replay: of these only the newest
        # stays pending live; the others come from the feed.
        stored += await append(subject.feed, symbol, 3, first=6)
        received += await take(events, len(stored) - 2)
        stored += await append(subject.feed, symbol, 1, first=9)
        received += await take(events, 1)
    assert sequences(received) == sequences(stored[1:])


async def test_replay_reads_the_feed_in_batches(
    subject: Subject, symbol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "REPLAY_BATCH", 3)
    stored = await append(subject.feed, symbol, 8)
    async with aclosing(
        replay_then_live(subject.feed, subject.bus, symbol, stored[0].sequence)
    ) as events:
        assert await take(events, 7) == stored[1:]


async def test_without_after_the_latest_event_comes_first_then_live_ones(
    subject: Subject, symbol: str
) -> None:
    stored = await append(subject.feed, symbol, 3)
    async with aclosing(replay_then_live(subject.feed, subject.bus, symbol, None)) as events:
        assert await take(events, 1) == stored[-1:]
        later = await append(subject.feed, symbol, 2, first=3)
        assert await take(events, 2) == later


async def test_without_anything_stored_live_events_come_as_published(
    subject: Subject, symbol: str
) -> None:
    watched = WatchedFeed(subject.feed)
    async with aclosing(replay_then_live(watched, subject.bus, symbol, None)) as events:
        first = asyncio.ensure_future(anext(events))
        async with asyncio.timeout(ARRIVAL):
            await watched.latest_read.wait()
        published = await append(subject.feed, symbol, 1)
        async with asyncio.timeout(ARRIVAL):
            assert [await first] == published
        published = await append(subject.feed, symbol, 1, first=1)
        assert await take(events, 1) == published


class Direct:
    """A `direct` receiver for replay_then_live: takes events while `accepting`."""

    def __init__(self) -> None:
        self.taken: list[PriceUpdated] = []
        self.accepting = True
        self.arrived = asyncio.Event()

    def __call__(self, event: PriceUpdated) -> bool:
        if not self.accepting:
            return False
        self.taken.append(event)
        self.arrived.set()
        return True

    async def wait_for(self, count: int) -> list[PriceUpdated]:
        async with asyncio.timeout(ARRIVAL):
            while len(self.taken) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.taken


async def test_live_events_handed_off_directly_keep_order_without_gap_or_duplicate(
    subject: Subject, symbol: str
) -> None:
    stored = await append(subject.feed, symbol, 3)
    direct = Direct()
    replaying = replay_then_live(
        subject.feed, subject.bus, symbol, stored[0].sequence, direct=direct
    )
    async with aclosing(replaying) as events:
        assert await take(events, 2) == stored[1:]
        # The first live event comes through the generator: a gap may need filling first.
        first_live = await append(subject.feed, symbol, 1, first=3)
        assert await take(events, 1) == first_live
        reading = asyncio.ensure_future(anext(events))
        for _ in range(5):
            await asyncio.sleep(0)  # the reader is now waiting for a message
        handed = await append(subject.feed, symbol, 3, first=4)
        assert sequences(await direct.wait_for(3)) == sequences(handed)
        assert not reading.done()
        # Declined ones are yielded, in order, after what was handed off.
        direct.accepting = False
        declined = await append(subject.feed, symbol, 1, first=7)
        async with asyncio.timeout(ARRIVAL):
            assert [await reading] == declined


async def test_live_events_are_compared_to_the_replay_as_numbers(symbol: str) -> None:
    async with open_event_bus(None) as bus:
        # One millisecond for all: the counters go 5-0 .. 5-9, then 5-10, which a string
        # comparison would put before 5-9.
        feed = MemoryPriceFeed(bus, clock=FakeClock(0.005))
        stored = await append(feed, symbol, 10)
        async with aclosing(replay_then_live(feed, bus, symbol, stored[-2].sequence)) as events:
            assert await take(events, 1) == stored[-1:]
            [newer] = await append(feed, symbol, 1, first=10)
            assert newer.sequence == "5-10"
            assert await take(events, 1) == [newer]


async def test_a_malformed_after_is_refused_before_subscribing(subject: Subject) -> None:
    with pytest.raises(InvalidInput) as raised:
        await anext(replay_then_live(subject.feed, subject.bus, "AAPL", "latest"))
    assert raised.value.field == "after"


async def test_a_redis_feed_without_a_free_connection_in_time_raises_a_typed_error(
    redis_url: str,
) -> None:
    # What a burst of thousands of new subscriptions did to the default pool: each one reads
    # the feed, and those that found no connection within the pool timeout failed untyped.
    pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=0.2)
    client = aioredis.Redis(connection_pool=pool)
    async with open_event_bus(None) as bus:
        feed = RedisPriceFeed(client, bus)
        holder = aioredis.Redis(connection_pool=pool)
        key = f"stockql:test:block:{uuid.uuid4().hex}"
        # ensure_future: redis-py types the command as an Awaitable, which create_task refuses.
        blocking = asyncio.ensure_future(holder.blpop([key], timeout=5))
        try:
            await asyncio.sleep(0.1)  # the only connection is now busy with BLPOP
            with pytest.raises(UpstreamUnavailable, match="Price events are unavailable"):
                await feed.latest("AAPL")
        finally:
            blocking.cancel()
            await asyncio.gather(blocking, return_exceptions=True)
            await client.aclose()
            await pool.disconnect()
