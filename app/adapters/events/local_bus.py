"""An in-process EventBus: delivers to this process's subscribers only, with bounded queues.

A stand-in until the broadcaster-based bus (Redis or memory backend) is wired; with it, one
replica's notifications reach only that replica's subscribers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.events import SubscriberOverflow, Subscription

DEFAULT_MAX_QUEUED = 100


class LocalEventBus:
    """domain.events.EventBus within one process. Publishing never waits for subscribers."""

    def __init__(self, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self._max_queued = max_queued
        self._subscribers: dict[str, set[_LocalSubscription]] = {}

    async def publish(self, channel: str, message: bytes) -> None:
        for subscriber in list(self._subscribers.get(channel, ())):
            subscriber.offer(message)

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, keep_latest_only: bool = False
    ) -> AsyncIterator[Subscription]:
        """Messages published on `channel` from now on. With `keep_latest_only` only the newest
        pending message is kept; otherwise more than `max_queued` pending messages end the
        subscription (its iterator raises SubscriberOverflow)."""
        subscriber = _LocalSubscription(
            max_queued=1 if keep_latest_only else self._max_queued,
            keep_latest_only=keep_latest_only,
        )
        subscribers = self._subscribers.setdefault(channel, set())
        subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            subscribers.discard(subscriber)
            if not subscribers and self._subscribers.get(channel) is subscribers:
                del self._subscribers[channel]


class _LocalSubscription:
    def __init__(self, *, max_queued: int, keep_latest_only: bool) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=max_queued)
        self._keep_latest_only = keep_latest_only
        self._overflowed = False

    def offer(self, message: bytes) -> None:
        if self._overflowed:
            return
        if self._queue.full():
            if not self._keep_latest_only:
                self._overflowed = True
                return
            self._queue.get_nowait()
        self._queue.put_nowait(message)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[bytes]:
        while True:
            # A full queue never has a waiting reader, so the flag is seen on the next read.
            if self._overflowed:
                raise SubscriberOverflow("the subscriber fell too far behind")
            yield await self._queue.get()
