"""The worker's jobs, run by `stockql worker` or inside `stockql serve` in the embedded default."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from app.jobs import PeriodicJob, running
from app.leader import LeaderElection, campaigning
from app.market_jobs import (
    clean_up_bars,
    for_each_symbol,
    refresh_daily_after_close,
    utc_now,
)
from app.quote_polling import QuoteRotation, quote_poll_plan
from app.runtime import Runtime
from app.stream_worker import streaming
from app.training import retrain_model
from domain.events import DailyBarAdded
from domain.price_publishing import PricePublisher

log = logging.getLogger(__name__)


@asynccontextmanager
async def running_worker(runtime: Runtime) -> AsyncIterator[None]:
    """The worker's jobs (and the streaming provider's connection, when one is configured)
    in the background. With Redis, several workers may run: they elect one leader that runs
    the jobs and the stream, the others stand by to take over."""
    jobs = worker_jobs(runtime)
    if runtime.redis is None:
        async with (
            running(jobs, metrics=runtime.metrics),
            streaming(runtime, is_leader=lambda: True),
        ):
            yield
        return
    election = LeaderElection(runtime.redis, ttl_seconds=runtime.settings.leader_lease_seconds)
    async with (
        campaigning(election),
        running(jobs, gate=lambda: election.is_leader, metrics=runtime.metrics),
        streaming(runtime, is_leader=lambda: election.is_leader),
    ):
        yield


def worker_jobs(runtime: Runtime) -> list[PeriodicJob]:
    settings = runtime.settings
    services = runtime.services

    publisher = PricePublisher(
        quotes=services.quotes, feed=services.prices, reactions=runtime.reactions
    )

    plan = quote_poll_plan(settings, runtime.provider.name)
    rotation = QuoteRotation(plan.calls_per_round)

    async def poll() -> None:
        # The configured symbols and those with live subscribers in any replica, now.
        symbols = rotation.next_round(await services.tracked.current())
        await for_each_symbol(symbols, publisher.publish, what="publishing the price")

    async def daily_bar_added(symbol: str) -> None:
        await runtime.reactions.react(DailyBarAdded(symbol))

    async def refresh_daily() -> None:
        await refresh_daily_after_close(
            services.history,
            runtime.bar_store,
            settings.symbols,
            now=utc_now(),
            on_new_bar=daily_bar_added,
        )

    async def retrain() -> None:
        await retrain_model(runtime)

    async def clean_up() -> None:
        keep = timedelta(days=settings.retention_intraday_days)
        await clean_up_bars(runtime.bar_store, keep_intraday=keep, now=utc_now())
        await services.alerts.deactivate_expired()
        await services.notifications.purge(
            older_than=timedelta(days=settings.retention_notifications_days)
        )
        await services.predictions.purge(
            older_than=timedelta(days=settings.retention_predictions_days)
        )

    # A streaming provider pushes prices (app/stream_worker.py): nothing to poll then.
    polling = (
        []
        if settings.stream_provider
        else [PeriodicJob("poll_quotes", plan.interval_seconds, poll)]
    )
    return [
        *polling,
        PeriodicJob("refresh_daily", settings.daily_refresh_check_minutes * 60, refresh_daily),
        PeriodicJob("clean_up", settings.cleanup_interval_hours * 3600, clean_up, 60.0),
        PeriodicJob(
            "retrain",
            settings.retrain_interval_hours * 3600,
            retrain,
            first_run_after=settings.retrain_interval_hours * 3600,
        ),
    ]
