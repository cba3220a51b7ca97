"""What a price subscription opens with (domain.opening_prices), on the feeds in memory and on
Redis: the latest stored event, or one first event stored for a fresh symbol however many
subscribe to it at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from domain.errors import NotFound
from domain.events import PriceFeed, PriceUpdated
from domain.opening_prices import OpeningPrices
from domain.quotes import QuoteService
from tests.support.fakes import DictCache, FakeBarStore, FakeProvider, daily_bars
from tests.support.held_answers import HeldFirstAnswer
from tests.support.price_feeds import Subject, append

SUBSCRIBERS = 50
START = datetime(2026, 3, 2, tzinfo=UTC)


def openings_of(
    subject: Subject, provider: FakeProvider, feed: PriceFeed | None = None
) -> OpeningPrices:
    quotes = QuoteService(provider=provider, store=FakeBarStore(), cache=DictCache())
    return OpeningPrices(quotes=quotes, feed=feed or subject.feed)


async def stored_events(feed: PriceFeed, symbol: str) -> list[PriceUpdated]:
    return await feed.after(symbol, "0-0")


async def test_a_stored_event_is_the_opening_without_asking_for_a_quote(
    subject: Subject, symbol: str
) -> None:
    provider = FakeProvider({symbol: daily_bars(5, start=START)})
    *_, newest = await append(subject.feed, symbol, 3)
    assert await openings_of(subject, provider).latest(symbol) == newest
    assert provider.calls == []


async def test_many_first_subscribers_of_a_fresh_symbol_share_one_quote_and_one_event(
    subject: Subject, symbol: str
) -> None:
    provider = FakeProvider({symbol: daily_bars(5, start=START)}, delay=0.05)
    openings = openings_of(subject, provider)
    opened = await asyncio.gather(*(openings.latest(symbol) for _ in range(SUBSCRIBERS)))
    (stored,) = await stored_events(subject.feed, symbol)
    assert all(event == stored for event in opened)
    assert stored.sequence
    assert provider.calls == [("quote", symbol)]


class _LateLatest:
    """A feed whose first `latest` answers from before it is held: what a subscriber sees
    when its read was sent before another's first event was stored, and answered after."""

    def __init__(self, feed: PriceFeed) -> None:
        self._feed = feed
        self.first = HeldFirstAnswer()

    def __getattr__(self, name: str) -> object:
        return getattr(self._feed, name)

    async def latest(self, symbol: str) -> PriceUpdated | None:
        return await self.first.hold(await self._feed.latest(symbol))


async def test_a_subscriber_whose_read_predates_the_first_event_opens_with_it(
    subject: Subject, symbol: str
) -> None:
    provider = FakeProvider({symbol: daily_bars(5, start=START)})
    late = _LateLatest(subject.feed)
    openings = openings_of(subject, provider, feed=late)  # type: ignore[arg-type]
    behind = asyncio.create_task(openings.latest(symbol))
    await late.first.held.wait()  # it found nothing stored, and is not told yet
    first = await openings.latest(symbol)  # stores the first event
    late.first.release.set()
    assert await behind == first
    assert await stored_events(subject.feed, symbol) == [first]


async def test_an_unknown_symbol_is_not_found_and_stores_nothing(
    subject: Subject, symbol: str
) -> None:
    provider = FakeProvider({})
    openings = openings_of(subject, provider)
    with pytest.raises(NotFound):
        await asyncio.gather(*(openings.latest(symbol) for _ in range(3)))
    assert await stored_events(subject.feed, symbol) == []
