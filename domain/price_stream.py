"""Turning polled quotes (or streamed trades) into price events: appended to the feed, then
alerts evaluated."""

from __future__ import annotations

import logging

import numpy as np

from domain import indicators
from domain.events import PriceFeed, PriceUpdated
from domain.history import HistoryService
from domain.market import Interval, Quote
from domain.notifications import AlertService
from domain.quotes import QuoteService

log = logging.getLogger(__name__)

RSI_WINDOW = 14


class PricePublisher:
    """Publishes a symbol's price when it changed since the last one this publisher saw."""

    def __init__(
        self,
        *,
        quotes: QuoteService,
        feed: PriceFeed,
        alerts: AlertService,
        history: HistoryService,
    ) -> None:
        self._quotes = quotes
        self._feed = feed
        self._alerts = alerts
        self._history = history
        self._last: dict[str, tuple[float, object]] = {}

    async def publish(self, symbol: str) -> PriceUpdated | None:
        """Poll the quote; when price or time moved, append the event (which publishes it) and
        evaluate the symbol's alerts. Returns the event, or None when nothing changed."""
        return await self.publish_quote(await self._quotes.refresh(symbol))

    async def publish_quote(self, quote: Quote) -> PriceUpdated | None:
        """Publish `quote` (polled, or a streamed trade's price) as `publish` does: the event
        appended and the alerts evaluated, unless it is stale or did not move."""
        if quote.stale or self._last.get(quote.symbol) == (quote.price, quote.timestamp):
            return None
        self._last[quote.symbol] = (quote.price, quote.timestamp)
        event = await self._feed.append(price_event(quote))
        await self._alerts.on_price(event, rsi=await self._rsi(quote))
        return event

    async def _rsi(self, quote: Quote) -> float | None:
        """RSI(14) of the daily closes with the live price as today's close."""
        try:
            stored = await self._history.stored_series(quote.symbol, Interval.DAILY)
        except Exception as error:  # alerts on price still run without RSI
            log.warning("no RSI for %s: %s", quote.symbol, type(error).__name__)
            return None
        series = stored.series
        if len(series) < RSI_WINDOW:
            return None
        # Wilder smoothing forgets old values: 20 windows of history are plenty.
        closes = series.close[-(RSI_WINDOW * 20) :]
        if series.timestamps[-1].date() == quote.timestamp.date():
            closes = [*closes[:-1], quote.price]  # today's bar is still forming
        else:
            closes = [*closes, quote.price]
        values = indicators.rsi(np.asarray(closes, dtype=np.float64), RSI_WINDOW)
        return float(values[-1])


def price_event(quote: Quote) -> PriceUpdated:
    return PriceUpdated(
        symbol=quote.symbol,
        price=quote.price,
        timestamp=quote.timestamp,
        volume=quote.volume,
        change=quote.change,
        change_percent=quote.change_percent,
    )
