"""A bounded subscriber's hand-off: messages dealt with on arrival while the reader waits,
queued (in order) whenever the reader is busy, something is pending or the handler declines."""

import asyncio
import logging

import pytest
from broadcaster import Event

from app.adapters.events.subscriber import BoundedSubscriber, Delivery

CHANNEL = "stock:AAPL"


def event(number: int) -> Event:
    return Event(CHANNEL, str(number))


async def waiting_reader(subscriber: BoundedSubscriber) -> asyncio.Task[Event]:
    reader = asyncio.ensure_future(subscriber.get())
    for _ in range(3):  # into get(), waiting: no I/O on the way
        await asyncio.sleep(0)
    assert not reader.done()
    return reader


async def test_messages_go_to_the_handler_while_the_reader_waits() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8, keep_latest_only=True)
    handled: list[Event] = []

    def handle(message: Event) -> bool:
        handled.append(message)
        return True

    subscriber.hand_off(handle)
    reader = await waiting_reader(subscriber)
    assert [subscriber.deliver(event(i)) for i in range(3)] == [Delivery.HANDED_OFF] * 3
    assert handled == [event(0), event(1), event(2)]
    await asyncio.sleep(0)
    assert not reader.done()  # never woken
    subscriber.close()


async def test_declined_messages_reach_the_reader_and_later_ones_queue_behind_them() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8)
    offered: list[Event] = []

    def decline_first(message: Event) -> bool:
        offered.append(message)
        return len(offered) > 1

    subscriber.hand_off(decline_first)
    reader = await waiting_reader(subscriber)
    assert subscriber.deliver(event(0)) is Delivery.QUEUED
    # Pending, so not offered: it must not overtake the declined one.
    assert subscriber.deliver(event(1)) is Delivery.QUEUED
    assert await reader == event(0)
    # The reader is busy (not in get()): still queued, in order.
    assert subscriber.deliver(event(2)) is Delivery.QUEUED
    assert [await subscriber.get(), await subscriber.get()] == [event(1), event(2)]
    assert offered == [event(0)]
    await waiting_reader(subscriber)
    assert subscriber.deliver(event(3)) is Delivery.HANDED_OFF
    subscriber.close()


async def test_a_failing_handler_leaves_the_message_to_the_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8)

    def broken(message: Event) -> bool:
        raise RuntimeError("boom")

    subscriber.hand_off(broken)
    reader = await waiting_reader(subscriber)
    with caplog.at_level(logging.ERROR):
        assert subscriber.deliver(event(0)) is Delivery.QUEUED
    assert await reader == event(0)
    assert "Hand-off handler of stock:AAPL failed" in caplog.text


async def test_without_a_handler_every_message_is_queued() -> None:
    subscriber = BoundedSubscriber(CHANNEL, max_pending=8)
    subscriber.hand_off(lambda message: True)
    subscriber.hand_off(None)
    reader = await waiting_reader(subscriber)
    assert subscriber.deliver(event(0)) is Delivery.QUEUED
    assert await reader == event(0)
