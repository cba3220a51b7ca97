"""Alerts' reactions to events (see domain.reactions): price alerts on every new price, with
the symbol's live RSI, and recommendation alerts on every change of recommendation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import numpy as np

from domain import indicators
from domain.alerts.service import AlertService
from domain.events import PriceUpdated, RecommendationChanged
from domain.history import HistoryService
from domain.market import Interval

log = logging.getLogger(__name__)

RSI_WINDOW = 14


def price_alerts(
    alerts: AlertService, history: HistoryService
) -> Callable[[PriceUpdated], Awaitable[object]]:
    async def evaluate(event: PriceUpdated) -> None:
        await alerts.on_price(event, rsi=await live_rsi(history, event))

    return evaluate


def recommendation_alerts(
    alerts: AlertService,
) -> Callable[[RecommendationChanged], Awaitable[object]]:
    async def evaluate(event: RecommendationChanged) -> None:
        await alerts.on_recommendation_changed(event.symbol, event.old, event.new)

    return evaluate


async def live_rsi(history: HistoryService, event: PriceUpdated) -> float | None:
    """RSI(14) of the daily closes with the live price as today's close."""
    try:
        stored = await history.stored_series(event.symbol, Interval.DAILY)
    except Exception as error:  # alerts on price still run without RSI
        log.warning("no RSI for %s: %s", event.symbol, type(error).__name__)
        return None
    series = stored.series
    if len(series) < RSI_WINDOW:
        return None
    # Wilder smoothing forgets old values: 20 windows of history are plenty.
    closes = series.close[-(RSI_WINDOW * 20) :]
    if series.timestamps[-1].date() == event.timestamp.date():
        closes = [*closes[:-1], event.price]  # today's bar is still forming
    else:
        closes = [*closes, event.price]
    values = indicators.rsi(np.asarray(closes, dtype=np.float64), RSI_WINDOW)
    return float(values[-1])
