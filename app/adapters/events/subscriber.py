"""One subscriber's pending messages, bounded whatever the subscriber's pace."""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncGenerator

from broadcaster import Event

# Not re-exported by broadcaster, but its Broadcast.subscribe is typed to yield a Subscriber.
from broadcaster._base import Subscriber, Unsubscribed

from domain.events import SubscriberOverflow


class Delivery(enum.Enum):
    """What `BoundedSubscriber.deliver` did with a message."""

    QUEUED = "queued"
    # Queued in place of the pending one, which the reader will never see (keep_latest_only).
    REPLACED = "replaced"
    # Not queued: the subscriber fell `max_pending` behind; those and this one are dropped.
    OVERFLOWED = "overflowed"
    # Not queued: the subscription is closed or over.
    IGNORED = "ignored"


class BoundedSubscriber(Subscriber):
    """broadcaster's Subscriber (`get()`, `async for`) with at most `max_pending` messages.

    With `keep_latest_only` a new message replaces the pending one, so a slow reader sees the
    newest. Otherwise a message arriving while `max_pending` wait ends the subscription: the
    pending messages are dropped and the next `get()` raises SubscriberOverflow, so that the
    reader resumes from what it has. `deliver` never blocks, so one slow subscriber cannot
    hold up the others.
    """

    def __init__(self, channel: str, *, max_pending: int, keep_latest_only: bool = False) -> None:
        # broadcaster's __init__ only stores its unbounded queue; there is nothing to share.
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending}")
        self.channel = channel
        self._max_pending = 1 if keep_latest_only else max_pending
        # maxlen=1 drops the older message on append: keep-latest without a branch.
        self._pending: deque[Event] = deque(maxlen=1 if keep_latest_only else None)
        self._keep_latest_only = keep_latest_only
        self._changed = asyncio.Event()
        self._overflowed = False
        self._closed = False

    def deliver(self, event: Event) -> Delivery:
        """Queue `event` for the reader, or end the subscription if it is too far behind."""
        if self._closed or self._overflowed:
            return Delivery.IGNORED
        if not self._keep_latest_only and len(self._pending) >= self._max_pending:
            self._overflowed = True
            self._pending.clear()
            delivery = Delivery.OVERFLOWED
        else:
            replaces = self._keep_latest_only and bool(self._pending)
            delivery = Delivery.REPLACED if replaces else Delivery.QUEUED
            self._pending.append(event)
        self._changed.set()
        return delivery

    def close(self) -> None:
        """End the subscription after the pending messages."""
        self._closed = True
        self._changed.set()

    async def get(self) -> Event:
        """The next message. Raises Unsubscribed once closed and drained, SubscriberOverflow
        once the subscriber fell too far behind."""
        while True:
            if self._overflowed:
                raise SubscriberOverflow(
                    f"subscriber of {self.channel} fell {self._max_pending} messages behind"
                )
            if self._pending:
                return self._pending.popleft()
            if self._closed:
                raise Unsubscribed()
            self._changed.clear()
            await self._changed.wait()

    async def __aiter__(self) -> AsyncGenerator[Event, None]:
        """Messages until the subscription is closed; raises SubscriberOverflow."""
        try:
            while True:
                yield await self.get()
        except Unsubscribed:
            return
