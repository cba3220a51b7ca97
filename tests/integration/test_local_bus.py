"""LocalEventBus: in-process delivery, bounded queues, overflow ends a subscriber."""

from __future__ import annotations

import pytest

from app.adapters.events.local_bus import LocalEventBus
from domain.events import SubscriberOverflow


async def test_a_subscriber_gets_what_is_published_on_its_channel_only() -> None:
    bus = LocalEventBus()
    async with bus.subscribe("user:u1") as subscription:
        await bus.publish("user:u2", b"other")
        await bus.publish("user:u1", b"one")
        await bus.publish("user:u1", b"two")
        messages = aiter(subscription)
        assert [await anext(messages), await anext(messages)] == [b"one", b"two"]


async def test_publishing_without_subscribers_is_a_no_op() -> None:
    await LocalEventBus().publish("user:nobody", b"lost")


async def test_keep_latest_only_keeps_the_newest_pending_message() -> None:
    bus = LocalEventBus()
    async with bus.subscribe("stock:AAPL", keep_latest_only=True) as subscription:
        for price in (b"1", b"2", b"3"):
            await bus.publish("stock:AAPL", price)
        assert await anext(aiter(subscription)) == b"3"


async def test_a_subscriber_that_falls_behind_is_ended() -> None:
    bus = LocalEventBus(max_queued=2)
    async with bus.subscribe("user:u1") as subscription:
        for number in range(3):
            await bus.publish("user:u1", str(number).encode())
        with pytest.raises(SubscriberOverflow):
            await anext(aiter(subscription))


async def test_a_finished_subscription_gets_nothing_more() -> None:
    bus = LocalEventBus()
    async with bus.subscribe("user:u1"):
        pass
    await bus.publish("user:u1", b"after")
    assert bus._subscribers == {}
