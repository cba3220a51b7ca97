"""The price event a new price subscriber opens with, shared by everyone who subscribes at once."""

from __future__ import annotations

from domain.events import PriceFeed, PriceUpdated
from domain.price_publishing import price_event
from domain.quotes import QuoteService
from domain.single_flight import SingleFlight


class OpeningPrices:
    """A symbol's latest stored event; a symbol nobody has published yet gets its current
    quote stored as the first one, so that even the opening carries a sequence to resume from.

    When thousands subscribe to a fresh symbol at once, each of them finds nothing stored:
    they share one quote and one append (per process) instead of storing an event each."""

    def __init__(self, *, quotes: QuoteService, feed: PriceFeed) -> None:
        self._quotes = quotes
        self._feed = feed
        self._firsts: SingleFlight[PriceUpdated] = SingleFlight()

    async def latest(self, symbol: str) -> PriceUpdated:
        """Raises NotFound for an unknown symbol, UpstreamUnavailable without a price."""
        stored = await self._feed.latest(symbol)
        if stored is not None:
            return stored
        return await self._firsts.run_unless(
            symbol, lambda: self._feed.latest(symbol), lambda: self._stored_first(symbol)
        )

    async def check_known(self, symbol: str) -> None:
        """Raises NotFound for an unknown symbol (and what quotes raise without a price)."""
        await self._quotes.latest(symbol)

    async def _stored_first(self, symbol: str) -> PriceUpdated:
        return await self._feed.append(price_event(await self._quotes.latest(symbol)))
