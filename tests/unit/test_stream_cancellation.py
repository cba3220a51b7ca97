"""app/stream_worker.py's cancellation helper: stopping a stream loop never swallows the
cancellation of whoever is stopping it (which would leave `streaming()` waiting forever),
and a loop ends even when a call inside it swallowed the cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from app.stream_worker import StreamSupervisor, _cancelled
from domain.cancellation import raise_if_cancelled
from tests.support.waiting import eventually


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


class _SwallowingTracked:
    """Tracked symbols whose lookup swallows a cancellation, as Python 3.11's
    asyncio.wait_for inside redis-py does when the reply lands as the cancellation arrives."""

    def __init__(self) -> None:
        self.lookups = 0

    async def current(self) -> tuple[str, ...]:
        self.lookups += 1
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        return ("AAPL",)


class _Feed:
    name = "fake"
    max_symbols = None

    async def follow(self, symbols: frozenset[str]) -> None:
        pass


async def test_following_ends_when_a_lookup_swallowed_its_cancellation() -> None:
    tracked = _SwallowingTracked()
    supervisor = StreamSupervisor(
        feed=_Feed(),  # type: ignore[arg-type]
        ingest=None,  # type: ignore[arg-type]  # never reached: no symbol is refused
        tracked=tracked,  # type: ignore[arg-type]
        is_leader=lambda: True,
        settings=None,  # type: ignore[arg-type]
    )
    following = asyncio.create_task(supervisor._follow_forever(0.001))
    await eventually(lambda: tracked.lookups == 1, within=2)
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(following, 2)  # not TimeoutError: it does not sleep on
    assert tracked.lookups == 1


async def test_raise_if_cancelled_raises_only_for_a_pending_cancellation() -> None:
    raise_if_cancelled()  # nothing asked: nothing raised

    async def swallowed_then_checked() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        raise_if_cancelled()

    task = asyncio.create_task(swallowed_then_checked())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
