"""app/lean_asyncio.py against asyncio's Queue and Event: the same steps, the same outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.lean_asyncio import LeanEvent, LeanQueue

Steps = Callable[[Any], Awaitable[list[object]]]


async def getters_in_turn(queue: Any) -> list[object]:
    """Three getters waiting, one cancelled after it was woken, items put in between."""
    got: list[object] = []

    async def get(name: str) -> None:
        got.append((name, await queue.get()))

    first, second, third = (asyncio.create_task(get(name)) for name in "abc")
    await asyncio.sleep(0)
    queue.put_nowait(1)
    first.cancel()  # woken, then cancelled before it ran: the item goes to the next one
    await asyncio.sleep(0)
    queue.put_nowait(2)
    queue.put_nowait(3)
    await asyncio.gather(first, second, third, return_exceptions=True)
    got.append(("empty", queue.empty()))
    queue.put_nowait(4)
    got.append(("size", queue.qsize()))
    got.append(("now", await queue.get()))
    return got


async def cancelled_waiter(queue: Any) -> list[object]:
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    queue.put_nowait("kept")
    return [waiting.cancelled(), queue.qsize(), await queue.get(), queue.empty()]


@pytest.mark.parametrize("steps", [getters_in_turn, cancelled_waiter])
async def test_the_lean_queue_does_what_asyncios_does(steps: Steps) -> None:
    assert await steps(LeanQueue()) == await steps(asyncio.Queue())


async def set_clear_and_wait(event: Any) -> list[object]:
    seen: list[object] = [event.is_set()]

    async def wait(name: str) -> None:
        seen.append((name, await event.wait()))

    waiters = [asyncio.create_task(wait(name)) for name in "abc"]
    await asyncio.sleep(0)
    waiters[1].cancel()  # one waiter going away wakes nobody else
    await asyncio.sleep(0)
    seen.append(("before set", [waiter.done() for waiter in waiters]))
    event.set()
    event.clear()  # cleared at once: those waiting were woken all the same
    await asyncio.gather(*waiters, return_exceptions=True)
    seen.append(event.is_set())
    event.set()
    seen.append(("set", await event.wait()))
    return seen


async def test_the_lean_event_does_what_asyncios_does() -> None:
    assert await set_clear_and_wait(LeanEvent()) == await set_clear_and_wait(asyncio.Event())
