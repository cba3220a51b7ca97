"""Price feeds and the event bus they publish on, in memory and on Redis, for tests; and
ticks of a symbol to append to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.adapters.events.bus import BroadcastBus
from app.adapters.events.price_feed import MemoryPriceFeed, RedisPriceFeed
from domain.events import PriceFeed, PriceUpdated

# Events per symbol the feeds under test keep: few, to fill them quickly.
MAX_LENGTH = 50
ARRIVAL = 5.0
START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


@dataclass
class Subject:
    feed: MemoryPriceFeed | RedisPriceFeed
    bus: BroadcastBus


def tick(symbol: str, number: int) -> PriceUpdated:
    return PriceUpdated(
        symbol=symbol,
        price=100.0 + number,
        timestamp=START + timedelta(seconds=number),
        volume=1000.0 * number,
        change=0.5,
        change_percent=0.25,
    )


async def append(feed: PriceFeed, symbol: str, count: int, first: int = 0) -> list[PriceUpdated]:
    return [await feed.append(tick(symbol, number)) for number in range(first, first + count)]


async def take(events: AsyncIterator[PriceUpdated], count: int) -> list[PriceUpdated]:
    async with asyncio.timeout(ARRIVAL):
        return [await anext(events) for _ in range(count)]
