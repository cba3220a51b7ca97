"""Waiting for something that happens in the background, bounded in time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, within: float = 10.0, every: float = 0.05
) -> None:
    """Return once `check()` is true; fail the test after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(every)


async def subscribed(redis: Redis, channel: str, *, within: float = 10.0) -> None:
    """Return once some process has a Redis subscription to `channel` (the server's
    subscription is live, so what is published from now on reaches it)."""

    async def has_subscriber() -> bool:
        counts = await redis.pubsub_numsub(channel)
        return any(count > 0 for _, count in counts)

    await eventually(has_subscriber, within=within)
