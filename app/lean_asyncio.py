"""asyncio's Queue and Event, as far as one websocket connection uses them, at a fraction of
their size.

Every asyncio.Queue holds four deques and every asyncio.Event one, whether anyone ever waits
on them or not, and an empty deque already takes a 64-slot block: ~0.7 KiB each (tracemalloc),
~3.7 KiB for the Queue and Event uvicorn's websocket protocol makes per connection, which at
10,000 subscribers is 36 MiB. These hold a list and make a future only while someone waits.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


def _wake_first(waiters: list[asyncio.Future[None]] | None) -> None:
    if waiters:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
                return


class LeanQueue(Generic[T]):
    """An unbounded FIFO queue: put_nowait, get (first come, first served) and empty."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._getters: list[asyncio.Future[None]] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        _wake_first(self._getters)

    async def get(self) -> T:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            finally:
                self._getters.remove(getter)
                if not self._getters:
                    self._getters = None
                elif self._items and getter.done() and not getter.cancelled():
                    # Woken, then cancelled before it could take the item: the next one may.
                    _wake_first(self._getters)
        return self._items.pop(0)


class LeanEvent:
    """A flag to wait for: set, clear, is_set and wait, as asyncio.Event has them."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True
