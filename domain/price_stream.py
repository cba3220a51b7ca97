"""Turning polled quotes (or streamed trades) into price events: appended to the feed, then
alerts evaluated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

import numpy as np

from domain import indicators
from domain.events import PriceFeed, PriceUpdated
from domain.history import HistoryService
from domain.market import Interval, Quote
from domain.notifications import AlertService
from domain.quotes import QuoteService

log = logging.getLogger(__name__)

RSI_WINDOW = 14
# How long the daily closes RSI is computed on are kept before they are read again.
DAILY_REREAD_SECONDS = 60.0


class PricePublisher:
    """Publishes a symbol's price when it changed since the last one this publisher saw."""

    def __init__(
        self,
        *,
        quotes: QuoteService,
        feed: PriceFeed,
        alerts: AlertService,
        history: HistoryService,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._quotes = quotes
        self._feed = feed
        self._alerts = alerts
        self._history = history
        self._last: dict[str, tuple[float, object]] = {}
        self._clock = clock
        # Symbol -> (when read, its newest daily date, its last closes): a streamed symbol
        # publishes many times a second, its daily bars change once a day.
        self._daily: dict[str, tuple[float, date, list[float]]] = {}

    async def publish(self, symbol: str) -> PriceUpdated | None:
        """Poll the quote; when price or time moved, append the event (which publishes it) and
        evaluate the symbol's alerts. Returns the event, or None when nothing changed."""
        return await self.publish_quote(await self._quotes.refresh(symbol))

    async def publish_quote(self, quote: Quote) -> PriceUpdated | None:
        """Publish `quote` as `publish` does: the event appended and the alerts evaluated,
        unless it is stale or did not move."""
        event = await self.append_quote(quote)
        if event is not None:
            await self.evaluate_alerts(event)
        return event

    async def append_quote(self, quote: Quote) -> PriceUpdated | None:
        """Append `quote` (polled, or a streamed trade's price) as a price event, unless it is
        stale or did not move; its alerts are for `evaluate_alerts`. Returns the event."""
        if quote.stale or self._last.get(quote.symbol) == (quote.price, quote.timestamp):
            return None
        self._last[quote.symbol] = (quote.price, quote.timestamp)
        return await self._feed.append(price_event(quote))

    async def evaluate_alerts(self, event: PriceUpdated) -> None:
        """Evaluate the symbol's alerts on an appended event (with its RSI)."""
        await self._alerts.on_price(event, rsi=await self._rsi(event))

    async def _rsi(self, event: PriceUpdated) -> float | None:
        """RSI(14) of the daily closes with the live price as today's close."""
        daily = await self._daily_closes(event.symbol)
        if daily is None:
            return None
        newest, closes = daily
        if newest == event.timestamp.date():
            closes = [*closes[:-1], event.price]  # today's bar is still forming
        else:
            closes = [*closes, event.price]
        values = indicators.rsi(np.asarray(closes, dtype=np.float64), RSI_WINDOW)
        return float(values[-1])

    async def _daily_closes(self, symbol: str) -> tuple[date, list[float]] | None:
        """The newest daily bar's date and the last closes RSI needs, read again at most
        every DAILY_REREAD_SECONDS; None when there are too few or they cannot be read."""
        now = self._clock()
        known = self._daily.get(symbol)
        if known is not None and now - known[0] < DAILY_REREAD_SECONDS:
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
        closes = series.close[-(RSI_WINDOW * 20) :]
        newest = series.timestamps[-1].date()
        self._daily[symbol] = (now, newest, closes)
        return newest, closes


def price_event(quote: Quote) -> PriceUpdated:
    return PriceUpdated(
        symbol=quote.symbol,
        price=quote.price,
        timestamp=quote.timestamp,
        volume=quote.volume,
        change=quote.change,
        change_percent=quote.change_percent,
    )
