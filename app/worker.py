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
from app.runtime import Runtime
from app.training import retrain_model
from domain.price_stream import PricePublisher

log = logging.getLogger(__name__)


def quote_poll_interval(runtime: Runtime) -> float:
    """Seconds between polls of every tracked symbol: STOCKQL_QUOTE_POLL_SECONDS when set,
    else each simulator tick, or as often as the Alpha Vantage budget allows with a fifth of
    it left for history and search."""
    settings = runtime.settings
    if settings.quote_poll_seconds is not None:
        return settings.quote_poll_seconds
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
        async with running(jobs, metrics=runtime.metrics):
            yield
        return
    election = LeaderElection(runtime.redis, ttl_seconds=runtime.settings.leader_lease_seconds)
    async with (
        campaigning(election),
        running(jobs, gate=lambda: election.is_leader, metrics=runtime.metrics),
    ):
        yield


def worker_jobs(runtime: Runtime) -> list[PeriodicJob]:
    settings = runtime.settings
    services = runtime.services

    publisher = PricePublisher(
        quotes=services.quotes,
        feed=services.prices,
        alerts=services.alerts,
        history=services.history,
    )

    async def poll() -> None:
        await for_each_symbol(settings.symbols, publisher.publish, what="publishing the price")

    async def predict_again(symbol: str) -> None:
        await services.predictions.predict(symbol)

    async def refresh_daily() -> None:
        # A new daily bar changes what the signals see: predict those symbols again.
        await refresh_daily_after_close(
            services.history,
            runtime.bar_store,
            settings.symbols,
            now=utc_now(),
            on_new_bar=predict_again,
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

    return [
        PeriodicJob("poll_quotes", quote_poll_interval(runtime), poll),
        PeriodicJob("refresh_daily", settings.daily_refresh_check_minutes * 60, refresh_daily),
        PeriodicJob("clean_up", settings.cleanup_interval_hours * 3600, clean_up, 60.0),
        PeriodicJob(
            "retrain",
            settings.retrain_interval_hours * 3600,
            retrain,
            first_run_after=settings.retrain_interval_hours * 3600,
        ),
    ]
