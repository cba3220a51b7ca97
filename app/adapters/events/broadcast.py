"""Bounded fan-out over broadcaster's Broadcast: one Broadcast subscription per channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from broadcaster import Broadcast, Event

from app.adapters.events.backend import EventBackend, message_bytes
from app.adapters.events.subscriber import BoundedSubscriber, Delivery
from app.metrics import Metrics
from domain.events import (
    ALL_PREDICTIONS_CHANNEL,
    ALL_STOCKS_CHANNEL,
    MODEL_ACTIVATIONS_CHANNEL,
    predictions_channel,
    stock_channel,
    user_channel,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 256

# Label values of the channels (never the channel itself: one per symbol or user).
_KIND_OF_CHANNEL = {
    ALL_STOCKS_CHANNEL: "stocks_all",
    ALL_PREDICTIONS_CHANNEL: "predictions_all",
    MODEL_ACTIVATIONS_CHANNEL: "models",
}
_KIND_OF_PREFIX = {
    channel(""): channel("").rstrip(":")
    for channel in (stock_channel, user_channel, predictions_channel)
}


def channel_kind(channel: str) -> str:
    """What kind of channel this is: stock, stocks_all, user, predictions, predictions_all,
    models; other for any channel not made by domain.events."""
    kind = _KIND_OF_CHANNEL.get(channel)
    if kind is not None:
        return kind
    prefix, separator, _ = channel.partition(":")
    return _KIND_OF_PREFIX.get(prefix + separator, "other")


class ChannelObserver(Protocol):
    """Told of every message each channel held here receives (before its subscribers are),
    and when this process stops receiving a channel."""

    def received(self, channel: str, message: bytes) -> None: ...

    def left(self, channel: str) -> None: ...


@dataclass(eq=False)
class _Channel:
    """The local subscribers of one channel, and the task that feeds them from broadcaster."""

    subscribers: set[BoundedSubscriber] = field(default_factory=set)
    # Serialises joining broadcaster's subscription of this channel and leaving it.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    feeder: asyncio.Task[None] | None = None


class BoundedBroadcast:
    """Fan-out to bounded subscribers (see BoundedSubscriber) over broadcaster's Broadcast
    with one of this project's backends (see EventBackend), broadcaster's extension point.

    Broadcast is used through its public API only: per channel, one Broadcast subscription
    however many local subscribers, read by a feeder task that hands each event to them
    without waiting. That is what fixes broadcaster 0.3.1's fan-out: each of its subscribers
    has an unbounded queue; two first subscribers of a channel arriving together both
    subscribe the backend and one is never delivered to (a lock per channel here); and a
    subscriber is not ended when the bus disconnects (ended here).
    """

    def __init__(
        self,
        *,
        backend: EventBackend,
        max_pending: int = DEFAULT_MAX_PENDING,
        metrics: Metrics | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending}")
        self._broadcast = Broadcast(backend=backend)
        self._backend = backend
        self._max_pending = max_pending
        self._metrics = metrics if metrics is not None else Metrics()
        self._channels: dict[str, _Channel] = {}
        self._observers: list[ChannelObserver] = []
        self._open = False

    @property
    def connected(self) -> bool:
        """Whether published messages can currently reach subscribers (Redis is reachable)."""
        return self._backend.connected

    def observe(self, observer: ChannelObserver) -> None:
        self._observers.append(observer)

    def reception(self, channel: str) -> object | None:
        """A token that stays the same while this process receives every message published
        on `channel` (a local subscriber holds it, and the backend's subscription has not
        been lost since); None when it does not now (see EventBackend.reception)."""
        state = self._channels.get(channel)
        if state is None or state.feeder is None or state.feeder.done():
            return None
        received = self._backend.reception(channel)
        # The feeder is part of it: a channel left and held again is another reception.
        return None if received is None else (state.feeder, received)

    async def connect(self) -> None:
        await self._broadcast.connect()
        self._open = True

    async def disconnect(self) -> None:
        """End every subscription (their iterators stop), then disconnect; once."""
        if not self._open:
            return
        self._open = False
        feeders = [state.feeder for state in self._channels.values() if state.feeder]
        for feeder in feeders:
            feeder.cancel()
        if feeders:
            await asyncio.wait(feeders)
        self._close_subscribers()
        await self._broadcast.disconnect()

    async def publish(self, channel: str, message: Any) -> None:
        """Publish (bytes, see EventBackend) and count it once it is sent."""
        await self._broadcast.publish(channel, message)
        self._metrics.events_published.labels(channel_kind(channel)).inc()

    @asynccontextmanager
    async def subscribe(
        self,
        channel: str,
        *,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[Event], Hashable] | None = None,
    ) -> AsyncIterator[BoundedSubscriber]:
        """A subscriber of `channel` (see BoundedSubscriber for the options), ready when
        entered: what is published afterwards reaches it."""
        subscriber = BoundedSubscriber(
            channel,
            max_pending=self._max_pending,
            keep_latest_only=keep_latest_only,
            keep_latest_per=keep_latest_per,
        )
        # Joined before any await: nothing delivered from here on is missed, and a channel
        # with a subscriber is never torn down by another one leaving.
        state = self._channels.setdefault(channel, _Channel())
        state.subscribers.add(subscriber)
        try:
            async with state.lock:
                if state.feeder is None or state.feeder.done():
                    state.feeder = await self._start_feeder(channel, state)
            yield subscriber
        finally:
            subscriber.close()
            state.subscribers.discard(subscriber)
            if not state.subscribers:
                await self._leave(channel, state)

    async def _start_feeder(self, channel: str, state: _Channel) -> asyncio.Task[None]:
        """A task holding broadcaster's subscription of `channel`, once it is subscribed."""
        subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        feeder = asyncio.create_task(self._feed(channel, state, subscribed))
        try:
            await asyncio.shield(subscribed)
        except BaseException:
            feeder.cancel()
            await asyncio.wait([feeder])
            raise
        return feeder

    async def _feed(self, channel: str, state: _Channel, subscribed: asyncio.Future[None]) -> None:
        try:
            async with self._broadcast.subscribe(channel) as events:
                subscribed.set_result(None)
                # Ends only by cancellation: this task holds the subscription open.
                while True:
                    self._deliver(await events.get(), state.subscribers)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not subscribed.done():
                subscribed.set_exception(error)
                return
            # Without a feeder nothing arrives: end the subscriptions rather than let them
            # wait forever.
            log.exception("Feeding %s failed; ending its subscriptions", channel)
            for subscriber in state.subscribers:
                subscriber.close()

    async def _leave(self, channel: str, state: _Channel) -> None:
        async with state.lock:
            # Someone may have joined while this waited for the lock.
            if state.subscribers:
                return
            feeder, state.feeder = state.feeder, None
            try:
                if feeder is not None:
                    # Leaving broadcaster's subscription unsubscribes the backend.
                    feeder.cancel()
                    await asyncio.wait([feeder])
                for observer in self._observers:
                    observer.left(channel)
            finally:
                # Forgotten only when still unused: a subscriber that joined meanwhile is
                # waiting for this lock and starts a feeder again.
                if not state.subscribers and self._channels.get(channel) is state:
                    del self._channels[channel]

    def _deliver(self, event: Event, subscribers: set[BoundedSubscriber]) -> None:
        """Hand `event` to each subscriber (never waiting) and count the outcome once."""
        for observer in self._observers:
            observer.received(event.channel, message_bytes(event))
        delivered = superseded = overflowed = 0
        for subscriber in list(subscribers):
            delivery = subscriber.deliver(event)
            if delivery is Delivery.QUEUED or delivery is Delivery.HANDED_OFF:
                delivered += 1
            elif delivery is Delivery.REPLACED:
                delivered += 1
                superseded += 1
            elif delivery is Delivery.OVERFLOWED:
                overflowed += 1
        kind = channel_kind(event.channel)
        metrics = self._metrics
        if delivered:
            metrics.events_delivered.labels(kind).inc(delivered)
        if superseded:
            metrics.events_dropped.labels(kind, "superseded").inc(superseded)
        if overflowed:
            # An overflowing subscriber loses its pending messages and this one.
            metrics.events_dropped.labels(kind, "overflow").inc(
                overflowed * (self._max_pending + 1)
            )

    def _close_subscribers(self) -> None:
        for channel in self._channels.values():
            for subscriber in channel.subscribers:
                subscriber.close()
