"""What the in-process event bus counts: events published, delivered and dropped per channel
kind (a slow price reader's superseded prices, an overflowing subscriber's lost messages)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.adapters.events.bus import BroadcastBus, open_event_bus
from app.metrics import Metrics
from domain.events import SubscriberOverflow, stock_channel, user_channel

MAX_PENDING = 4
ARRIVAL = 5.0


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def bus(metrics: Metrics) -> AsyncIterator[BroadcastBus]:
    async with open_event_bus(None, max_pending=MAX_PENDING, metrics=metrics) as bus:
        yield bus


def counted(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def receive(messages: AsyncIterator[bytes]) -> bytes:
    async with asyncio.timeout(ARRIVAL):
        return await anext(messages)


async def test_each_publish_and_each_delivery_is_counted_by_channel_kind(
    bus: BroadcastBus, metrics: Metrics
) -> None:
    channel = stock_channel("AAPL")
    async with bus.subscribe(channel) as first, bus.subscribe(channel) as second:
        for number in range(3):
            await bus.publish(channel, str(number).encode())
            for subscription in (first, second):
                await receive(aiter(subscription))
    assert counted(metrics, "stockql_events_published_total", kind="stock") == 3
    assert counted(metrics, "stockql_events_delivered_total", kind="stock") == 6
    assert counted(metrics, "stockql_events_dropped_total", kind="stock", reason="superseded") == 0


async def test_prices_a_slow_reader_never_sees_are_dropped_as_superseded(
    bus: BroadcastBus, metrics: Metrics
) -> None:
    channel = stock_channel("AAPL")
    async with (
        bus.subscribe(channel, keep_latest_only=True) as latest,
        bus.subscribe(channel) as probe,
    ):
        for number in range(3):
            await bus.publish(channel, str(number).encode())
            await receive(aiter(probe))  # delivered to both subscribers by now
        assert await receive(aiter(latest)) == b"2"
    assert counted(metrics, "stockql_events_dropped_total", kind="stock", reason="superseded") == 2


async def test_an_overflowing_subscriber_drops_its_pending_messages_and_the_next(
    bus: BroadcastBus, metrics: Metrics
) -> None:
    channel = user_channel("u1")
    async with bus.subscribe(channel) as slow, bus.subscribe(channel) as probe:
        for number in range(MAX_PENDING + 1):
            await bus.publish(channel, str(number).encode())
            await receive(aiter(probe))
        with pytest.raises(SubscriberOverflow):
            await receive(aiter(slow))
    assert counted(metrics, "stockql_events_dropped_total", kind="user", reason="overflow") == (
        MAX_PENDING + 1
    )
    assert counted(metrics, "stockql_events_delivered_total", kind="user") == 2 * MAX_PENDING + 1
