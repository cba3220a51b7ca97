"""An in-process broadcaster backend: the embedded default, one process, no broker.

broadcaster's own MemoryBackend is not used: its queue is unbounded and holds every message
published, subscribed channel or not, until the listener filters it out; and publishing
before connect() fails.
"""

from __future__ import annotations

import asyncio

from broadcaster import Event

from app.adapters.events.backend import EventBackend, message_event

DEFAULT_MAX_QUEUED = 1024


class MemoryBackend(EventBackend):
    """Channels within this process. `publish` waits while `max_queued` messages are on their
    way to subscribers (the Broadcast's listener drains them without blocking)."""

    def __init__(self, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, not {max_queued}")
        self._channels: set[str] = set()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_queued)
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, channel: str, message: bytes) -> None:
        # Filtered here, not when consumed: a message nobody subscribed to takes no room.
        if channel in self._channels:
            await self._queue.put(message_event(channel, message))

    async def next_published(self) -> Event:
        return await self._queue.get()
