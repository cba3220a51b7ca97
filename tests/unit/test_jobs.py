"""Leaving `jobs.running` ends the jobs even when a job's own code loses the cancellation,
as the database driver can when a task is cancelled mid-query (the worker then hung on
SIGTERM/SIGINT until it was killed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app import jobs

HOUR = 3600.0


async def _raises_another_error_instead() -> None:
    try:
        await asyncio.sleep(HOUR)
    except asyncio.CancelledError:
        raise ConnectionError("the cancel request failed") from None


async def _returns_normally_instead() -> None:
    try:
        await asyncio.sleep(HOUR)
    except asyncio.CancelledError:
        return


@pytest.mark.parametrize("run", [_raises_another_error_instead, _returns_normally_instead])
async def test_a_job_that_loses_its_cancellation_still_stops(
    run: Callable[[], Awaitable[None]],
) -> None:
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        await run()

    async def run_and_leave() -> None:
        async with jobs.running([jobs.PeriodicJob("slow", HOUR, job)]):
            await started.wait()

    # The job's next run is an hour away: only honouring the cancellation ends it in time.
    await asyncio.wait_for(run_and_leave(), 5.0)
