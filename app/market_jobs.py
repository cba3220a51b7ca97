"""Worker jobs on market data: poll quotes, refresh daily history after the close, clean up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from domain import trading_calendar
from domain.bar_store import BarStore
from domain.history import HistoryService
from domain.market import Interval

log = logging.getLogger(__name__)


async def for_each_symbol(
    symbols: Iterable[str], action: Callable[[str], Awaitable[object]], *, what: str
) -> None:
    """Run `action` for every symbol concurrently; one symbol's failure is logged, not raised."""
    symbols = tuple(symbols)
    results = await asyncio.gather(*(action(symbol) for symbol in symbols), return_exceptions=True)
    for symbol, result in zip(symbols, results, strict=True):
        if isinstance(result, Exception):
            log.warning("%s failed for %s: %s", what, symbol, type(result).__name__)


def last_close(now: datetime) -> datetime:
    """The end of the newest regular session that has closed by `now` (UTC)."""
    day = trading_calendar.new_york_date(now)
    if not trading_calendar.is_trading_day(day) or now < trading_calendar.session_close(day):
        day = trading_calendar.previous_trading_day(day)
    return trading_calendar.session_close(day)


async def refresh_daily_after_close(
    history: HistoryService,
    store: BarStore,
    symbols: Iterable[str],
    *,
    now: datetime,
    on_new_bar: Callable[[str], Awaitable[object]] | None = None,
) -> list[str]:
    """Refresh the daily bars of every symbol last fetched before the newest close; returns the
    symbols that gained a new daily bar (and calls `on_new_bar` for each)."""
    closed_at = last_close(now)
    updated: list[str] = []

    async def refresh(symbol: str) -> None:
        fetched = await store.last_fetch(symbol, Interval.DAILY)
        if fetched is not None and fetched.fetched_at >= closed_at:
            return
        before = await store.latest_bar(symbol, Interval.DAILY)
        refreshed = await history.refresh(symbol, Interval.DAILY)
        newest = refreshed.series.timestamps[-1] if len(refreshed.series) else None
        if newest is not None and (before is None or newest > before.timestamp):
            updated.append(symbol)
            if on_new_bar is not None:
                await on_new_bar(symbol)

    await for_each_symbol(symbols, refresh, what="refreshing daily history")
    return updated


async def clean_up_bars(store: BarStore, *, keep_intraday: timedelta, now: datetime) -> int:
    """Remove intraday bars older than `keep_intraday`; daily bars are kept."""
    removed = 0
    for interval in Interval:
        if interval.is_intraday:
            removed += await store.delete_before(interval, now - keep_intraday)
    if removed:
        log.info("removed %d intraday bars older than %s", removed, keep_intraday)
    return removed


def utc_now() -> datetime:
    return datetime.now(UTC)
