"""broadcaster's Broadcast with bounded subscribers and a race-free count per channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from broadcaster import Broadcast, Event

from app.adapters.events.backend import EventBackend
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


@dataclass(eq=False)
class _Channel:
    """The local subscribers of one channel, and whether the backend is subscribed to it."""

    subscribers: set[BoundedSubscriber] = field(default_factory=set)
    # Serialises the backend's subscribe/unsubscribe of this channel.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribed: bool = False


class BoundedBroadcast(Broadcast):
    """A Broadcast whose subscribers hold at most `max_pending` messages (see
    BoundedSubscriber), over this project's backends (see EventBackend).

    Fixed against broadcaster 0.3.1's Broadcast: each subscriber had an unbounded queue and
    the listener awaited each put; two first subscribers of a channel arriving together both
    subscribed the backend and one was never delivered to; disconnect did not wait for the
    cancelled listener and left subscribers waiting forever.
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
        super().__init__(backend=backend)
        # The same object as broadcaster's self._backend, typed as one of ours.
        self._events_backend = backend
        self._max_pending = max_pending
        self._metrics = metrics if metrics is not None else Metrics()
        self._channels: dict[str, _Channel] = {}

    @property
    def connected(self) -> bool:
        """Whether published messages can currently reach subscribers (Redis is reachable)."""
        return self._events_backend.connected

    async def disconnect(self) -> None:
        """Stop the listener, end every subscription (their iterators stop), disconnect."""
        listener = self._listener_task
        listener.cancel()
        await asyncio.wait([listener])
        self._close_subscribers()
        await self._backend.disconnect()

    async def publish(self, channel: str, message: Any) -> None:
        """Publish (bytes, see EventBackend) and count it once it is sent."""
        await self._backend.publish(channel, message)
        self._metrics.events_published.labels(channel_kind(channel)).inc()

    async def _listener(self) -> None:
        try:
            while True:
                event = await self._backend.next_published()
                channel = self._channels.get(event.channel)
                if channel is not None:
                    self._deliver(event, channel.subscribers)
        except Exception:
            # Without a listener nothing arrives: end the subscriptions rather than let them
            # wait forever.
            log.exception("Event listener failed; ending every subscription")
            self._close_subscribers()

    def _deliver(self, event: Event, subscribers: set[BoundedSubscriber]) -> None:
        """Hand `event` to each subscriber (never waiting) and count the outcome once."""
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

    @asynccontextmanager
    async def subscribe(
        self,
        channel: str,
        *,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[Event], Hashable] | None = None,
    ) -> AsyncIterator[BoundedSubscriber]:
        """A subscriber of `channel` (see BoundedSubscriber for the options), ready when
        entered: what is published afterwards reaches it. The backend is subscribed once per
        channel however many local subscribers."""
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
                if not state.subscribed:
                    # Marked first: if subscribing fails half-way it is still undone below.
                    state.subscribed = True
                    await self._backend.subscribe(channel)
            yield subscriber
        finally:
            subscriber.close()
            state.subscribers.discard(subscriber)
            if not state.subscribers:
                await self._leave(channel, state)

    async def _leave(self, channel: str, state: _Channel) -> None:
        async with state.lock:
            # Someone may have joined while this waited for the lock.
            if state.subscribers:
                return
            try:
                if state.subscribed:
                    state.subscribed = False
                    await self._backend.unsubscribe(channel)
            finally:
                # Forgotten only when still unused: a subscriber that joined meanwhile is
                # waiting for this lock and subscribes the backend again.
                if not state.subscribers and self._channels.get(channel) is state:
                    del self._channels[channel]
