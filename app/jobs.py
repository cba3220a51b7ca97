"""Periodic jobs: each runs on its own interval; a failing run is logged and retried next time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.metrics import Metrics
from domain.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[None]]
    # Seconds before the first run: heavy jobs need not run at every start-up.
    first_run_after: float = 0.0


def _always() -> bool:
    return True


async def _repeat(job: PeriodicJob, gate: Callable[[], bool], metrics: Metrics) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(job.first_run_after)
    while True:
        started = loop.time()
        outcome = await _run_once(job, gate)
        metrics.job_runs.labels(job.name, outcome).inc()
        if outcome != "skipped":
            metrics.job_duration.labels(job.name).observe(loop.time() - started)
        await asyncio.sleep(max(0.0, job.interval_seconds - (loop.time() - started)))


async def _run_once(job: PeriodicJob, gate: Callable[[], bool]) -> str:
    """Run `job` unless the gate is closed: "ok", "failed" (logged) or "skipped"."""
    try:
        if not gate():
            return "skipped"
        await job.run()
    except asyncio.CancelledError:
        raise
    except Exception:
        raise_if_cancelled()
        log.exception("job %s failed", job.name)
        return "failed"
    raise_if_cancelled()
    return "ok"


@asynccontextmanager
async def running(
    jobs: Sequence[PeriodicJob],
    *,
    gate: Callable[[], bool] = _always,
    metrics: Metrics | None = None,
) -> AsyncIterator[None]:
    """Run the jobs in the background for the duration of the block; a run is skipped
    while `gate()` is false (this worker is not the leader). `metrics` counts the runs by
    outcome and times them."""
    counted = metrics if metrics is not None else Metrics()
    tasks = [
        asyncio.create_task(_repeat(job, gate, counted), name=f"job:{job.name}") for job in jobs
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
