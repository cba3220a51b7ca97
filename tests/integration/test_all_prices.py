"""The allStocks stream (domain.realtime_streams.all_prices) on the real event bus and price
feeds, in memory and on Redis: the latest price of every tracked symbol first, then every
update, none sent twice, and a burst across symbols reaching a busy consumer whole."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import aclosing

from app.adapters.cache import MemoryCache
from app.adapters.live_symbols import MemoryLiveSymbols
from app.adapters.simulator import MarketSimulator
from domain.events import ALL_STOCKS_CHANNEL, PriceFeed, PriceUpdated
from domain.opening_prices import OpeningPrices
from domain.price_codec import decode_price
from domain.quotes import QuoteService
from domain.realtime_streams import all_prices
from domain.tracked_symbols import TrackedSymbols
from tests.support.fakes import FakeBarStore
from tests.support.price_feeds import ARRIVAL, Subject, append, tick


def unique_symbols(count: int) -> list[str]:
    # Channels are server-wide: symbols of their own keep concurrent runs apart.
    return ["T" + uuid.uuid4().hex[:8].upper() for _ in range(count)]


def stream(
    subject: Subject, tracked: Iterable[str], *, feed: PriceFeed | None = None
) -> AsyncGenerator[PriceUpdated, None]:
    feed = feed or subject.feed
    # The simulator knows none of these symbols: without a stored price, none is had.
    quotes = QuoteService(provider=MarketSimulator(), store=FakeBarStore(), cache=MemoryCache())
    return all_prices(
        bus=subject.bus,
        tracked=TrackedSymbols(configured=tracked, live=MemoryLiveSymbols(), max_live=0),
        openings=OpeningPrices(quotes=quotes, feed=feed),
    )


async def take_of(
    events: AsyncIterator[PriceUpdated], symbols: Iterable[str], count: int
) -> list[PriceUpdated]:
    """The next `count` events of `symbols` (other runs may publish on the channel too)."""
    wanted = set(symbols)
    taken: list[PriceUpdated] = []
    async with asyncio.timeout(ARRIVAL):
        while len(taken) < count:
            event = await anext(events)
            if event.symbol in wanted:
                taken.append(event)
    return taken


async def test_the_latest_price_of_each_tracked_symbol_comes_first_then_every_update(
    subject: Subject,
) -> None:
    first, second, unpriced = unique_symbols(3)
    stored = await append(subject.feed, first, 3)
    (only,) = await append(subject.feed, second, 1)
    async with aclosing(stream(subject, [first, second, unpriced])) as events:
        assert await take_of(events, [first, second, unpriced], 2) == [stored[-1], only]
        live = [await subject.feed.append(tick(symbol, 10)) for symbol in (second, first)]
        assert await take_of(events, [first, second, unpriced], 2) == live


async def test_a_burst_across_symbols_reaches_a_consumer_busy_meanwhile_whole(
    subject: Subject,
) -> None:
    symbols = unique_symbols(5)
    for symbol in symbols:
        await append(subject.feed, symbol, 1)
    async with (
        aclosing(stream(subject, symbols)) as events,
        subject.bus.subscribe(ALL_STOCKS_CHANNEL) as probe,
    ):
        await take_of(events, symbols, len(symbols))  # the opening
        # The consumer does not ask for more while a tick of every symbol is published.
        burst = [await subject.feed.append(tick(symbol, 1)) for symbol in symbols]
        probed = aiter(probe)
        async with asyncio.timeout(ARRIVAL):
            while decode_price(await anext(probed)) != burst[-1]:
                pass  # once the probe has the last one, the stream has all of them
        assert await take_of(events, symbols, len(symbols)) == burst


class AppendingFeed:
    """A feed on which a new event of the symbol is appended just as its latest is read:
    the event is then both in the opening and live, as when a tick races a subscriber."""

    def __init__(self, feed: PriceFeed) -> None:
        self._feed = feed
        self.raced: list[PriceUpdated] = []

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        return await self._feed.append(event)

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        return await self._feed.after(symbol, sequence, limit=limit)

    async def latest(self, symbol: str) -> PriceUpdated | None:
        self.raced.append(await self._feed.append(tick(symbol, 5)))
        return await self._feed.latest(symbol)


async def test_an_update_stored_while_the_opening_is_read_is_sent_once(subject: Subject) -> None:
    (symbol,) = unique_symbols(1)
    await append(subject.feed, symbol, 1)
    racing = AppendingFeed(subject.feed)
    async with aclosing(stream(subject, [symbol], feed=racing)) as events:
        assert await take_of(events, [symbol], 1) == racing.raced
        later = await subject.feed.append(tick(symbol, 6))
        assert await take_of(events, [symbol], 1) == [later]
