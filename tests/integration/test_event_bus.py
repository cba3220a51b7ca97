"""BroadcastBus over the memory and Redis backends: delivery from the first subscription on,
fan-out within a process and across replicas, bounded subscribers, and self-healing after the
pub/sub connection is killed or Redis restarts."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.events.broadcast import BoundedBroadcast
from app.adapters.events.bus import BroadcastBus, open_event_bus
from app.adapters.events.redis_backend import RedisBackend
from domain.events import SubscriberOverflow, Subscription
from tests.support.processes import ThrowawayRedis
from tests.support.processes import throwaway_redis as started_throwaway_redis
from tests.support.waiting import eventually

MAX_PENDING = 8
# How long a message that should arrive now may take.
ARRIVAL = 5.0
# How long the bus may take to heal after losing Redis (the brief's bound).
RECOVERY = 10.0
BACKEND_LOG = "app.adapters.events.redis_backend"


@pytest.fixture(params=["memory", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def bus(bus_url: str | None) -> AsyncIterator[BroadcastBus]:
    async with open_event_bus(bus_url, max_pending=MAX_PENDING) as bus:
        yield bus


@pytest.fixture
def channel() -> str:
    # Pub/sub channels are server-wide (not per database): unique names keep concurrent
    # test runs on the same Redis apart.
    return f"test:{uuid.uuid4().hex}"


async def receive(messages: AsyncIterator[bytes], *, within: float = ARRIVAL) -> bytes:
    async with asyncio.timeout(within):
        return await anext(messages)


async def receive_nothing(messages: AsyncIterator[bytes], *, within: float = 0.2) -> None:
    receiving = asyncio.ensure_future(anext(messages))
    done, _ = await asyncio.wait([receiving], timeout=within)
    receiving.cancel()
    await asyncio.wait([receiving])
    assert not done, f"unexpected message {receiving.result()!r}"


async def receive_all(messages: AsyncIterator[bytes], count: int) -> list[bytes]:
    return [await receive(messages) for _ in range(count)]


async def publish_until_received(
    bus: BroadcastBus, channel: str, messages: AsyncIterator[bytes], *, within: float = RECOVERY
) -> bytes:
    """Publish every 0.1 s (failures while Redis is down included) until a message arrives."""
    receiving = asyncio.ensure_future(anext(messages))
    try:
        async with asyncio.timeout(within):
            while not receiving.done():
                with suppress(RedisConnectionError, RedisTimeoutError):
                    await bus.publish(channel, b"again")
                await asyncio.wait([receiving], timeout=0.1)
            return receiving.result()
    finally:
        receiving.cancel()
        await asyncio.wait([receiving])


def stream(subscription: Subscription) -> AsyncIterator[bytes]:
    return aiter(subscription)


async def test_a_message_published_right_after_subscribing_arrives(
    bus: BroadcastBus, channel: str
) -> None:
    # The first subscription of a fresh bus is where broadcaster's own backend lost messages.
    for number in range(5):
        name = f"{channel}:{number}"
        async with bus.subscribe(name) as subscription:
            await bus.publish(name, b"first")
            assert await receive(stream(subscription)) == b"first"


async def test_every_subscriber_of_a_channel_gets_each_message_in_order(
    bus: BroadcastBus, channel: str
) -> None:
    async with AsyncExitStack() as stack:
        subscriptions = [await stack.enter_async_context(bus.subscribe(channel)) for _ in range(3)]
        for message in (b"1", b"2", b"3"):
            await bus.publish(channel, message)
        for subscription in subscriptions:
            assert await receive_all(stream(subscription), 3) == [b"1", b"2", b"3"]


async def test_a_subscriber_gets_only_its_channel(bus: BroadcastBus, channel: str) -> None:
    async with bus.subscribe(channel) as mine, bus.subscribe(f"{channel}:other"):
        messages = stream(mine)
        await bus.publish(f"{channel}:other", b"not for me")
        await bus.publish(channel, b"mine")
        assert await receive(messages) == b"mine"


async def test_subscribers_joining_at_once_all_receive(bus: BroadcastBus, channel: str) -> None:
    # broadcaster's Broadcast dropped one of two first subscribers subscribing concurrently.
    async with AsyncExitStack() as stack:
        subscriptions = await asyncio.gather(
            *(stack.enter_async_context(bus.subscribe(channel)) for _ in range(5))
        )
        await bus.publish(channel, b"all")
        for subscription in subscriptions:
            assert await receive(stream(subscription)) == b"all"


async def test_a_burst_of_publishes_waits_for_connections_instead_of_failing(
    redis_url: str,
) -> None:
    # redis-py's own pool refused the 101st concurrent command ("Too many connections"):
    # the first subscribers of many symbols at once each publish a first price.
    channel = f"stockql:test:burst:{uuid.uuid4().hex}"
    async with open_event_bus(redis_url) as bus, bus.subscribe(channel) as subscription:
        await asyncio.gather(*(bus.publish(channel, b"%d" % i) for i in range(200)))
        received = []
        async with asyncio.timeout(10):
            async for message in subscription:
                received.append(message)
                if len(received) == 200:
                    break
    assert sorted(received, key=int) == [b"%d" % i for i in range(200)]


async def test_local_subscribers_of_a_channel_share_one_redis_subscription(
    redis_url: str, channel: str
) -> None:
    admin = aioredis.from_url(redis_url)
    try:
        async with open_event_bus(redis_url) as bus:
            async with bus.subscribe(channel), bus.subscribe(channel):
                assert await admin.pubsub_numsub(channel) == [(channel.encode(), 1)]
            async with bus.subscribe(channel):
                assert await admin.pubsub_numsub(channel) == [(channel.encode(), 1)]

            async def unsubscribed() -> bool:
                return await admin.pubsub_numsub(channel) == [(channel.encode(), 0)]

            await eventually(unsubscribed, within=ARRIVAL)
    finally:
        await admin.aclose()


async def test_replicas_sharing_redis_deliver_each_others_messages(
    redis_url: str, channel: str
) -> None:
    async with (
        open_event_bus(redis_url) as first,
        open_event_bus(redis_url) as second,
        first.subscribe(channel) as on_first,
        second.subscribe(channel) as on_second,
    ):
        from_first, from_second = stream(on_first), stream(on_second)
        await first.publish(channel, b"from first")
        await second.publish(channel, b"from second")
        for messages in (from_first, from_second):
            assert await receive_all(messages, 2) == [b"from first", b"from second"]


async def test_keep_latest_only_keeps_the_newest_message_while_not_read(
    bus: BroadcastBus, channel: str
) -> None:
    async with (
        bus.subscribe(channel, keep_latest_only=True) as latest,
        bus.subscribe(channel) as probe,
    ):
        probed = stream(probe)
        prices = [str(number).encode() for number in range(MAX_PENDING * 3)]
        for price in prices:
            await bus.publish(channel, price)
            # Once the probe has it, it was delivered to both subscribers.
            assert await receive(probed) == price
        newest = stream(latest)
        assert await receive(newest) == prices[-1]
        await receive_nothing(newest)
        await bus.publish(channel, b"next")
        assert await receive(newest) == b"next"


async def test_a_subscriber_that_never_reads_is_ended_while_others_keep_receiving(
    bus: BroadcastBus, channel: str
) -> None:
    async with bus.subscribe(channel) as slow, bus.subscribe(channel) as fast:
        messages = stream(fast)
        for number in range(MAX_PENDING + 1):
            await bus.publish(channel, str(number).encode())
            assert await receive(messages) == str(number).encode()
        with pytest.raises(SubscriberOverflow):
            await receive(stream(slow))
        await bus.publish(channel, b"still")
        assert await receive(messages) == b"still"


async def test_subscriptions_end_when_the_bus_closes(bus_url: str | None, channel: str) -> None:
    async with open_event_bus(bus_url) as bus, bus.subscribe(channel) as subscription:
        messages = stream(subscription)
        ending = asyncio.ensure_future(receive(messages))
        await bus.__aexit__(None, None, None)
        with pytest.raises(StopAsyncIteration):
            await ending


async def test_the_bus_is_connected_once_open(bus: BroadcastBus) -> None:
    assert bus.connected


async def publish_and_receive(
    bus: BroadcastBus, channel: str, messages: AsyncIterator[bytes]
) -> None:
    await bus.publish(channel, b"before")
    assert await receive(messages) == b"before"


def assert_one_outage_logged(caplog: pytest.LogCaptureFixture) -> None:
    """One warning when the connection was lost, one info when it was back."""
    levels = [record.levelno for record in caplog.records if record.name == BACKEND_LOG]
    assert levels == [logging.WARNING, logging.INFO]


async def test_messages_flow_again_after_the_pubsub_connection_is_killed(
    redis_url: str, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=BACKEND_LOG)
    name = f"stockql-test-{uuid.uuid4().hex[:12]}"
    backend = RedisBackend(redis_url, client_name=name)
    admin = aioredis.from_url(redis_url)
    try:
        async with (
            BroadcastBus(BoundedBroadcast(backend=backend)) as bus,
            bus.subscribe(channel) as subscription,
        ):
            messages = stream(subscription)
            await publish_and_receive(bus, channel, messages)

            # Only this bus's connection: other test runs may share this Redis.
            [client] = [c for c in await admin.client_list(_type="pubsub") if c["name"] == name]
            assert await admin.client_kill_filter(_id=client["id"], _type="pubsub") == 1

            assert await publish_until_received(bus, channel, messages) == b"again"
            assert bus.connected
    finally:
        await admin.aclose()
    assert_one_outage_logged(caplog)


@pytest.fixture
async def throwaway_redis(tmp_path: Path) -> AsyncIterator[ThrowawayRedis]:
    """A redis-server of this test's own on a spare port, to stop and start again."""
    async with started_throwaway_redis(tmp_path) as server:
        yield server


async def test_messages_flow_again_after_redis_restarts(
    throwaway_redis: ThrowawayRedis, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=BACKEND_LOG)
    async with open_event_bus(throwaway_redis.url) as bus, bus.subscribe(channel) as subscription:
        messages = stream(subscription)
        await publish_and_receive(bus, channel, messages)

        await throwaway_redis.stop()
        await eventually(lambda: not bus.connected, within=ARRIVAL)
        with pytest.raises(RedisConnectionError):
            await bus.publish(channel, b"lost")

        await throwaway_redis.start()
        assert await publish_until_received(bus, channel, messages) == b"again"
        assert bus.connected
    assert_one_outage_logged(caplog)


async def test_a_redis_that_stops_answering_is_left_and_found_again(
    throwaway_redis: ThrowawayRedis, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=BACKEND_LOG)
    # The connection stays open while the server is frozen: only the unanswered PING tells.
    backend = RedisBackend(throwaway_redis.url, ping_interval=0.2, connect_timeout=0.5)
    async with (
        BroadcastBus(BoundedBroadcast(backend=backend)) as bus,
        bus.subscribe(channel) as subscription,
    ):
        messages = stream(subscription)
        await publish_and_receive(bus, channel, messages)

        throwaway_redis.freeze()
        try:
            await eventually(lambda: not bus.connected, within=ARRIVAL)
        finally:
            throwaway_redis.thaw()
        assert await publish_until_received(bus, channel, messages) == b"again"
    assert_one_outage_logged(caplog)


async def test_a_channel_subscribed_while_redis_is_down_receives_once_it_is_back(
    throwaway_redis: ThrowawayRedis, channel: str
) -> None:
    async with open_event_bus(throwaway_redis.url) as bus:
        await throwaway_redis.stop()
        await eventually(lambda: not bus.connected, within=ARRIVAL)
        async with AsyncExitStack() as stack:
            async with asyncio.timeout(1.0):  # Subscribing does not wait for Redis.
                subscription = await stack.enter_async_context(bus.subscribe(channel))
            await throwaway_redis.start()
            assert await publish_until_received(bus, channel, stream(subscription)) == b"again"
