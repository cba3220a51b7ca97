"""Alerts' reactions to events (see domain.reactions): price alerts on every new price, with
the symbol's live RSI, and recommendation alerts on every change of recommendation."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date

import numpy as np

from domain import indicators
from domain.alerts.service import AlertService
from domain.events import PriceUpdated, RecommendationChanged
from domain.history import HistoryService
from domain.market import Interval

log = logging.getLogger(__name__)

RSI_WINDOW = 14
# How long the daily closes RSI is computed on are kept before they are read again.
DAILY_REREAD_SECONDS = 60.0


def price_alerts(
    alerts: AlertService, history: HistoryService
) -> Callable[[PriceUpdated], Awaitable[object]]:
    closes = DailyCloses(history)

    async def evaluate(event: PriceUpdated) -> None:
        await alerts.on_price(event, rsi=await live_rsi(closes, event))

    return evaluate


def recommendation_alerts(
    alerts: AlertService,
) -> Callable[[RecommendationChanged], Awaitable[object]]:
    async def evaluate(event: RecommendationChanged) -> None:
        await alerts.on_recommendation_changed(event.symbol, event.old, event.new)

    return evaluate


class DailyCloses:
    """The newest daily date and last closes of each symbol, read again at most every
    `reread_seconds`: a streamed symbol has many prices a second, its daily bars change once
    a day (decoding its whole history from the cache on every price was most of its cost)."""

    def __init__(
        self,
        history: HistoryService,
        *,
        reread_seconds: float = DAILY_REREAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._history = history
        self._reread = reread_seconds
        self._clock = clock
        self._known: dict[str, tuple[float, date, list[float]]] = {}

    async def of(self, symbol: str) -> tuple[date, list[float]] | None:
        """None when there are too few daily bars or they cannot be read."""
        now = self._clock()
        known = self._known.get(symbol)
        if known is not None and now - known[0] < self._reread:
            return known[1], known[2]
        try:
            stored = await self._history.stored_series(symbol, Interval.DAILY)
        except Exception as error:  # alerts on price still run without RSI
            log.warning("no RSI for %s: %s", symbol, type(error).__name__)
            return None
        series = stored.series
        if len(series) < RSI_WINDOW:
            return None
        # Wilder smoothing forgets old values: 20 windows of history are plenty.
        newest, closes = series.timestamps[-1].date(), series.close[-(RSI_WINDOW * 20) :]
        self._known[symbol] = (now, newest, closes)
        return newest, closes


async def live_rsi(daily: DailyCloses, event: PriceUpdated) -> float | None:
    """RSI(14) of the daily closes with the live price as today's close."""
    known = await daily.of(event.symbol)
    if known is None:
        return None
    newest, closes = known
    if newest == event.timestamp.date():
        closes = [*closes[:-1], event.price]  # today's bar is still forming
    else:
        closes = [*closes, event.price]
    values = indicators.rsi(np.asarray(closes, dtype=np.float64), RSI_WINDOW)
    return float(values[-1])
