"""Turning polled quotes (or streamed trades) into price events: appended to the feed (which
publishes them), then announced to the reactions (alerts, see domain.reactions)."""

from __future__ import annotations

from domain.events import PriceFeed, PriceUpdated
from domain.market import Quote
from domain.quotes import QuoteService
from domain.reactions import Reactions


class PricePublisher:
    """Publishes a symbol's price when it changed since the last one this publisher saw."""

    def __init__(self, *, quotes: QuoteService, feed: PriceFeed, reactions: Reactions) -> None:
        self._quotes = quotes
        self._feed = feed
        self._reactions = reactions
        self._last: dict[str, tuple[float, object]] = {}

    async def publish(self, symbol: str) -> PriceUpdated | None:
        """Poll the quote; when price or time moved, append the event (which publishes it) and
        announce it. Returns the event, or None when nothing changed."""
        return await self.publish_quote(await self._quotes.refresh(symbol))

    async def publish_quote(self, quote: Quote) -> PriceUpdated | None:
        """Publish `quote` (polled, or a streamed trade's price) as `publish` does: appended
        and announced, unless it is stale or did not move."""
        if quote.stale or self._last.get(quote.symbol) == (quote.price, quote.timestamp):
            return None
        self._last[quote.symbol] = (quote.price, quote.timestamp)
        event = await self._feed.append(price_event(quote))
        await self._reactions.react(event)
        return event


def price_event(quote: Quote) -> PriceUpdated:
    return PriceUpdated(
        symbol=quote.symbol,
        price=quote.price,
        timestamp=quote.timestamp,
        volume=quote.volume,
        change=quote.change,
        change_percent=quote.change_percent,
    )
