"""app/stream_worker.py's cancellation helper: stopping a stream loop never swallows the
cancellation of whoever is stopping it (which would leave `streaming()` waiting forever)."""

from __future__ import annotations

import asyncio

import pytest

from app.stream_worker import _cancelled


async def _slow_to_stop(release: asyncio.Event) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await release.wait()  # a flush, say, before it ends
        raise


async def test_the_task_is_cancelled_and_awaited() -> None:
    release = asyncio.Event()
    release.set()
    task = asyncio.create_task(_slow_to_stop(release))
    await asyncio.sleep(0)
    await _cancelled(task)  # raises nothing
    assert task.cancelled()


async def test_a_cancellation_of_the_caller_meanwhile_is_passed_on() -> None:
    release = asyncio.Event()
    inner = asyncio.create_task(_slow_to_stop(release))
    await asyncio.sleep(0)
    outer = asyncio.create_task(_cancelled(inner))
    await asyncio.sleep(0.01)  # outer now waits for inner to stop
    outer.cancel()
    await asyncio.sleep(0.01)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert inner.cancelled()
