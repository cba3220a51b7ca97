"""RedisPriceFeed.latest answered from what this process receives (app/adapters/events/
held_prices.py), against real Redis: the same answer as a read of the stream, and a read
again whenever the reception could have missed something."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
import redis.asyncio as aioredis

from app.adapters.events.broadcast import BoundedBroadcast
from app.adapters.events.bus import BroadcastBus
from app.adapters.events.held_prices import HeldPrices
from app.adapters.events.price_feed import RedisPriceFeed, stream_key
from app.adapters.events.redis_backend import RedisBackend
from domain.events import PriceUpdated, stock_channel
from domain.price_codec import encode_price
from tests.support.price_feeds import ARRIVAL, tick
from tests.support.waiting import eventually


@dataclass
class Held:
    feed: RedisPriceFeed
    # The same stream read every time: the general path the held answers are compared with.
    reading: RedisPriceFeed
    bus: BroadcastBus
    client: aioredis.Redis
    client_name: str


@pytest.fixture
async def held(redis_url: str) -> AsyncIterator[Held]:
    name = f"stockql-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.from_url(redis_url)
    try:
        async with BroadcastBus(
            BoundedBroadcast(backend=RedisBackend(redis_url, client_name=name))
        ) as bus:
            yield Held(
                RedisPriceFeed(client, bus, held=HeldPrices.observing(bus)),
                RedisPriceFeed(client, bus),
                bus,
                client,
                name,
            )
    finally:
        await client.aclose()


async def store_unpublished(client: aioredis.Redis, event: PriceUpdated) -> PriceUpdated:
    """XADD as RedisPriceFeed.append does, without publishing: only a read can see it."""
    entry_id = await client.xadd(
        stream_key(event.symbol), {b"event": encode_price(replace(event, sequence=""))}
    )
    assert isinstance(entry_id, bytes)
    return replace(event, sequence=entry_id.decode())


async def received(messages: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(anext(messages), ARRIVAL)


async def test_a_held_symbols_latest_is_known_after_one_read(held: Held, symbol: str) -> None:
    first = await held.feed.append(tick(symbol, 1))
    async with held.bus.subscribe(stock_channel(symbol)):
        assert await held.feed.latest(symbol) == first  # read from the stream
        unseen = await store_unpublished(held.client, tick(symbol, 2))
        # Not read again: what is not published does not reach this process.
        assert await held.feed.latest(symbol) == first
    # Left: nothing is known any more, and the stream is read.
    assert await held.feed.latest(symbol) == unseen


async def test_received_events_keep_it_the_same_as_a_read(held: Held, symbol: str) -> None:
    await held.feed.append(tick(symbol, 0))
    async with held.bus.subscribe(stock_channel(symbol)) as subscription:
        messages = aiter(subscription)
        await held.feed.latest(symbol)
        for number in range(1, 6):
            stored = await held.feed.append(tick(symbol, number))
            await received(messages)
            assert await held.feed.latest(symbol) == stored == await held.reading.latest(symbol)


async def test_events_received_before_a_read_do_not_make_it_known(held: Held, symbol: str) -> None:
    async with held.bus.subscribe(stock_channel(symbol)) as subscription:
        await held.feed.append(tick(symbol, 1))
        await received(aiter(subscription))
        # A newer one may have been published before the SUBSCRIBE: only a read can tell.
        unseen = await store_unpublished(held.client, tick(symbol, 2))
        assert await held.feed.latest(symbol) == unseen


async def test_an_older_event_arriving_late_does_not_replace_a_newer_one(
    held: Held, symbol: str
) -> None:
    older = await held.feed.append(tick(symbol, 1))
    newer = await held.feed.append(tick(symbol, 2))
    async with held.bus.subscribe(stock_channel(symbol)) as subscription:
        assert await held.feed.latest(symbol) == newer
        # Two publishers racing: the first stored is published last.
        await held.bus.publish(stock_channel(symbol), encode_price(older))
        await received(aiter(subscription))
        assert await held.feed.latest(symbol) == newer


async def test_a_lost_pubsub_connection_makes_it_read_again(held: Held, symbol: str) -> None:
    first = await held.feed.append(tick(symbol, 1))
    async with held.bus.subscribe(stock_channel(symbol)):
        assert await held.feed.latest(symbol) == first
        before = held.bus.reception(stock_channel(symbol))
        [connection] = [
            client
            for client in await held.client.client_list(_type="pubsub")
            if client["name"] == held.client_name
        ]
        assert await held.client.client_kill_filter(_id=connection["id"], _type="pubsub") == 1
        # Published while the connection was down, or before its SUBSCRIBE was confirmed.
        unseen = await store_unpublished(held.client, tick(symbol, 2))
        await eventually(
            lambda: held.bus.reception(stock_channel(symbol)) not in (None, before),
            within=ARRIVAL,
        )
        assert await held.feed.latest(symbol) == unseen


async def test_without_a_local_subscriber_the_stream_is_read(held: Held, symbol: str) -> None:
    await held.feed.append(tick(symbol, 1))
    unseen = await store_unpublished(held.client, tick(symbol, 2))
    assert held.bus.reception(stock_channel(symbol)) is None
    assert await held.feed.latest(symbol) == unseen
