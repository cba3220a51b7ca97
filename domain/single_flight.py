"""Collapse concurrent calls for the same key into one: one upstream call per symbol."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """While a call for a key is running, later callers for that key await its result.

    The call runs as its own task, so one caller being cancelled (a client that disconnects)
    neither cancels the call nor fails the others waiting on it.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._running[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    async def run_unless(
        self,
        key: Hashable,
        find: Callable[[], Awaitable[T | None]],
        make: Callable[[], Awaitable[T]],
    ) -> T:
        """Like run(key, make) for a caller whose own `find()` had nothing, but the flight asks
        `find()` again before it makes anything: that caller's read may have been answered
        after another flight had made (and stored) what it found missing."""

        async def found_or_made() -> T:
            found = await find()
            return found if found is not None else await make()

        return await self.run(key, found_or_made)

    def _forget(self, key: Hashable, done: asyncio.Task[T]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            # Mark the exception retrieved: every waiter may have been cancelled already.
            done.exception()
