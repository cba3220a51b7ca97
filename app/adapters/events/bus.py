"""The EventBus port on broadcaster: Redis shared by every replica, or in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

from broadcaster import Event

from app.adapters.events.backend import message_bytes
from app.adapters.events.broadcast import DEFAULT_MAX_PENDING, BoundedBroadcast, ChannelObserver
from app.adapters.events.memory_backend import MemoryBackend
from app.adapters.events.redis_backend import RedisBackend
from app.adapters.events.subscriber import BoundedSubscriber, Unsubscribed
from app.metrics import Metrics
from domain.events import Subscription


class BroadcastBus:
    """domain.events.EventBus over a BoundedBroadcast, which it connects and disconnects
    (`async with`). Subscriptions end when the bus closes."""

    def __init__(self, broadcast: BoundedBroadcast) -> None:
        self._broadcast = broadcast

    @property
    def connected(self) -> bool:
        """Health: whether messages published now reach subscribers (Redis is reachable)."""
        return self._broadcast.connected

    def observe(self, observer: ChannelObserver) -> None:
        """See BoundedBroadcast.observe."""
        self._broadcast.observe(observer)

    def reception(self, channel: str) -> object | None:
        """See BoundedBroadcast.reception."""
        return self._broadcast.reception(channel)

    async def __aenter__(self) -> Self:
        await self._broadcast.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._broadcast.disconnect()

    async def publish(self, channel: str, message: bytes) -> None:
        """Publish to every subscriber of `channel`, in every replica sharing the backend.
        Raises redis-py's ConnectionError or TimeoutError when Redis is unreachable."""
        await self._broadcast.publish(channel, message)

    @asynccontextmanager
    async def subscribe(
        self,
        channel: str,
        *,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[bytes], Hashable] | None = None,
    ) -> AsyncIterator[Subscription]:
        """See domain.events.EventBus.subscribe; ready once entered."""
        key_of = None if keep_latest_per is None else _of_bytes(keep_latest_per)
        async with self._broadcast.subscribe(
            channel, keep_latest_only=keep_latest_only, keep_latest_per=key_of
        ) as subscriber:
            yield _Messages(subscriber)


def _of_bytes(key_of: Callable[[bytes], Hashable]) -> Callable[[Event], Hashable]:
    return lambda event: key_of(message_bytes(event))


class _Messages:
    """A subscriber's messages as bytes (domain.events.Subscription).

    An iterator object rather than an async generator: cancelling a pending `anext` (say,
    under a timeout) then loses nothing and the iteration can go on."""

    __slots__ = ("_subscriber",)

    def __init__(self, subscriber: BoundedSubscriber) -> None:
        self._subscriber = subscriber

    def __aiter__(self) -> Self:
        return self

    def hand_off(self, handler: Callable[[bytes], bool] | None) -> None:
        """See domain.events.Subscription.hand_off."""
        if handler is None:
            self._subscriber.hand_off(None)
        else:
            self._subscriber.hand_off(lambda event: handler(message_bytes(event)))

    async def __anext__(self) -> bytes:
        try:
            event = await self._subscriber.get()
        except Unsubscribed:
            raise StopAsyncIteration from None
        return message_bytes(event)


@asynccontextmanager
async def open_event_bus(
    redis_url: str | None,
    *,
    max_pending: int = DEFAULT_MAX_PENDING,
    metrics: Metrics | None = None,
) -> AsyncIterator[BroadcastBus]:
    """The event bus over Redis pub/sub at `redis_url`, or in-process when None.

    `max_pending` bounds each subscriber's pending messages (see BoundedSubscriber); `metrics`
    counts events published, delivered and dropped (see BoundedBroadcast). Never
    raises for an unreachable Redis: the bus reconnects by itself (see `connected`)."""
    backend = MemoryBackend() if redis_url is None else RedisBackend(redis_url)
    async with BroadcastBus(
        BoundedBroadcast(backend=backend, max_pending=max_pending, metrics=metrics)
    ) as bus:
        yield bus
