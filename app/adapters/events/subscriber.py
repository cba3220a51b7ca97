"""One subscriber's pending messages, bounded whatever the subscriber's pace."""

from __future__ import annotations

import enum
import itertools
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Hashable

from broadcaster import Event

from app.lean_asyncio import LeanEvent
from domain.events import SubscriberOverflow

log = logging.getLogger(__name__)


class Unsubscribed(Exception):
    """`get()` on a subscription that was closed and drained."""


class Delivery(enum.Enum):
    """What `BoundedSubscriber.deliver` did with a message."""

    QUEUED = "queued"
    # Dealt with on arrival by the subscriber's hand-off handler: never queued.
    HANDED_OFF = "handed_off"
    # Queued in place of a pending one, which the reader will never see (keep_latest_per).
    REPLACED = "replaced"
    # Not queued: the subscriber fell `max_pending` behind; those and this one are dropped.
    OVERFLOWED = "overflowed"
    # Not queued: the subscription is closed or over.
    IGNORED = "ignored"


class BoundedSubscriber:
    """One local subscriber of a channel (`get()`, `async for`) with at most `max_pending`
    messages; broadcaster's own Subscriber has an unbounded queue.

    With `keep_latest_per`, a function of a message giving its key (a price's symbol), a new
    message replaces the pending one of the same key, in its place, so a slow reader sees
    the newest of each key and one key's burst never pushes out another's; past
    `max_pending` keys the oldest pending message makes room. Keys must be hashable; a
    message whose key cannot be computed is kept under a key of its own. Otherwise a message
    arriving while `max_pending` wait ends the subscription: the pending messages are dropped
    and the next `get()` raises SubscriberOverflow, so that the reader resumes from what it
    has. `deliver` never blocks, so one slow subscriber cannot hold up the others.

    With a hand-off handler (`hand_off`), a message arriving while the reader waits in
    `get()` with nothing pending goes to the handler first: only what it declines is queued
    and wakes the reader. Never while the reader is busy with an earlier message, so the
    two never overtake each other.
    """

    # One per live subscription (issue 17 point 4): no instance dict, and a LeanEvent
    # rather than an asyncio.Event's ~0.7 KiB.
    __slots__ = (
        "_arrivals",
        "_changed",
        "_closed",
        "_handler",
        "_key_of",
        "_max_pending",
        "_overflowed",
        "_pending",
        "_reader_waiting",
        "channel",
    )

    def __init__(
        self,
        channel: str,
        *,
        max_pending: int,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[Event], Hashable] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending}")
        if keep_latest_only and keep_latest_per is None:
            keep_latest_per = _one_key
        self.channel = channel
        self._max_pending = max_pending
        self._key_of = keep_latest_per
        # In arrival order; replacing a key's message keeps its place. Without keys, the
        # arrival number is the key.
        self._pending: OrderedDict[Hashable, Event] = OrderedDict()
        self._arrivals = itertools.count()
        self._changed = LeanEvent()
        self._overflowed = False
        self._closed = False
        self._handler: Callable[[Event], bool] | None = None
        self._reader_waiting = False

    def hand_off(self, handler: Callable[[Event], bool] | None) -> None:
        """See the class: None stops handing off."""
        self._handler = handler

    def deliver(self, event: Event) -> Delivery:
        """Queue `event` for the reader, or end the subscription if it is too far behind."""
        if self._closed or self._overflowed:
            return Delivery.IGNORED
        if self._handler is not None and self._reader_waiting and not self._pending:
            try:
                if self._handler(event):
                    return Delivery.HANDED_OFF
            except Exception:  # the reader's own path deals with the message instead
                log.exception("Hand-off handler of %s failed; message queued", self.channel)
        if self._key_of is None:
            delivery = self._append(event)
        else:
            delivery = self._keep_latest(event, self._key_of)
        self._changed.set()
        return delivery

    def _append(self, event: Event) -> Delivery:
        if len(self._pending) >= self._max_pending:
            self._overflowed = True
            self._pending.clear()
            return Delivery.OVERFLOWED
        self._pending[next(self._arrivals)] = event
        return Delivery.QUEUED

    def _keep_latest(self, event: Event, key_of: Callable[[Event], Hashable]) -> Delivery:
        try:
            key = key_of(event)
            hash(key)
        except Exception:  # the reader decides what an odd message is
            key = object()
        replaces = key in self._pending
        if not replaces and len(self._pending) >= self._max_pending:
            self._pending.popitem(last=False)
            replaces = True
        self._pending[key] = event
        return Delivery.REPLACED if replaces else Delivery.QUEUED

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
                return self._pending.popitem(last=False)[1]
            if self._closed:
                raise Unsubscribed()
            self._changed.clear()
            self._reader_waiting = True
            try:
                await self._changed.wait()
            finally:
                self._reader_waiting = False

    async def __aiter__(self) -> AsyncGenerator[Event, None]:
        """Messages until the subscription is closed; raises SubscriberOverflow."""
        try:
            while True:
                yield await self.get()
        except Unsubscribed:
            return


def _one_key(_: Event) -> None:
    """keep_latest_only: every message has the same key."""
    return None
