"""The worker's jobs, run by `stockql worker` or inside `stockql serve` in the embedded default."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.jobs import PeriodicJob, running
from app.leader import LeaderElection, campaigning
from app.runtime import Runtime

log = logging.getLogger(__name__)


def quote_poll_interval(runtime: Runtime) -> float:
    """Seconds between polls of every tracked symbol: each simulator tick, or as often as the
    Alpha Vantage budget allows with a fifth of it left for history and search."""
    settings = runtime.settings
    if runtime.provider.name != "alphavantage":
        return settings.simulator_tick_seconds
    calls_per_minute = settings.alphavantage_calls_per_minute * 0.8
    return max(60.0, 60.0 * len(settings.symbols) / calls_per_minute)


@asynccontextmanager
async def running_worker(runtime: Runtime) -> AsyncIterator[None]:
    """The worker's jobs in the background. With Redis, several workers may run: they elect
    one leader that runs the jobs, the others stand by to take over."""
    jobs = worker_jobs(runtime)
    if runtime.redis is None:
        async with running(jobs):
            yield
        return
    election = LeaderElection(runtime.redis)
    async with campaigning(election), running(jobs, gate=lambda: election.is_leader):
        yield


def worker_jobs(runtime: Runtime) -> list[PeriodicJob]:
    quotes = runtime.services.quotes

    async def poll_quotes() -> None:
        results = await asyncio.gather(
            *(quotes.refresh(symbol) for symbol in runtime.settings.symbols),
            return_exceptions=True,
        )
        for symbol, result in zip(runtime.settings.symbols, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("polling %s failed: %s", symbol, type(result).__name__)

    return [PeriodicJob("poll_quotes", quote_poll_interval(runtime), poll_quotes)]
