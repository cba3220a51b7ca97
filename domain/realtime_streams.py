"""The streams subscriptions serve, decoded from the event bus: prices, notifications,
predictions. Each unsubscribes as soon as its consumer closes it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import aclosing

from domain.errors import InvalidInput, StockQLError
from domain.events import (
    ALL_STOCKS_CHANNEL,
    EventBus,
    PredictionMade,
    PriceFeed,
    PriceUpdated,
    prediction_from_json,
)
from domain.notifications import Notification, notification_from_json
from domain.opening_prices import OpeningPrices
from domain.price_codec import decode_price, price_symbol
from domain.price_replay import replay_then_live
from domain.sequences import SequenceKey, parse_sequence
from domain.tracked_symbols import TrackedSymbols

log = logging.getLogger(__name__)


async def prices_of(
    symbol: str,
    after: str | None,
    *,
    openings: OpeningPrices,
    feed: PriceFeed,
    bus: EventBus,
    tracked: TrackedSymbols,
    direct: Callable[[PriceUpdated], bool] | None = None,
) -> AsyncGenerator[PriceUpdated, None]:
    """The latest price of a known symbol at once (or, with `after`, everything stored after
    that sequence), then every update; the symbol is tracked (the worker publishes its
    prices) while this runs. Raises NotFound for an unknown symbol, InvalidInput for a
    malformed `after` and TooManyLiveSymbols for a symbol beyond the live limit, before
    anything is sent.

    The opening is OpeningPrices.latest. `direct`: see replay_then_live."""
    # A symbol with a stored event is known (only quotes are stored): one Redis round trip
    # less for each of the thousands who subscribe at once.
    if after is not None:
        await openings.check_known(symbol)
    else:
        await openings.latest(symbol)
    async with (
        tracked.watching(symbol),
        aclosing(replay_then_live(feed, bus, symbol, after, direct=direct)) as events,
    ):
        async for event in events:
            yield event


async def all_prices(
    *,
    bus: EventBus,
    tracked: TrackedSymbols,
    openings: OpeningPrices,
    direct: Callable[[PriceUpdated], bool] | None = None,
) -> AsyncGenerator[PriceUpdated, None]:
    """The latest price of every tracked symbol at once, then every price update of every
    symbol. A consumer that keeps up gets every one; a slow one gets the newest pending one
    of each symbol. A symbol whose price cannot be had now (provider down, nothing stored)
    is left out of the opening, and comes with its next update.

    It subscribes before it reads the latest prices: an update stored in between is skipped
    when it arrives live, as is any not newer (by sequence) than what was sent of its symbol.
    `direct`, when given, is offered each live event on arrival and what it takes is not
    yielded (see Subscription.hand_off)."""
    async with bus.subscribe(ALL_STOCKS_CHANNEL, keep_latest_per=price_symbol) as subscription:
        sent = _NewestSent()
        for latest in await _latest_prices(await tracked.current(), openings):
            if sent.take(latest):
                yield latest
        if direct is not None:
            subscription.hand_off(lambda message: _offer(message, sent, direct))
        async for message in subscription:
            event = _decoded(message)
            if event is not None and sent.take(event):
                yield event


class _NewestSent:
    """The sequence of the newest event sent per symbol: what is not newer is a duplicate."""

    def __init__(self) -> None:
        self._newest: dict[str, SequenceKey] = {}

    def is_new(self, event: PriceUpdated) -> bool:
        return self._new_key(event) is not None

    def take(self, event: PriceUpdated) -> bool:
        """Whether `event` is new; if so it counts as sent from now on."""
        key = self._new_key(event)
        if key is None:
            return False
        self._newest[event.symbol] = key
        return True

    def _new_key(self, event: PriceUpdated) -> SequenceKey | None:
        """The event's sequence when it is newer than what was sent of its symbol."""
        key = self._key(event)
        if key is None:
            return None
        newest = self._newest.get(event.symbol)
        return key if newest is None or key > newest else None

    @staticmethod
    def _key(event: PriceUpdated) -> SequenceKey | None:
        try:
            return parse_sequence(event.sequence, field="sequence")
        except InvalidInput:
            log.warning("skipping a price of %s without a valid sequence", event.symbol)
            return None


async def _latest_prices(symbols: Iterable[str], openings: OpeningPrices) -> list[PriceUpdated]:
    """The latest price event of each symbol that has one or can have one now, in order."""

    async def latest(symbol: str) -> PriceUpdated | None:
        try:
            return await openings.latest(symbol)
        except StockQLError as error:
            log.info("no opening price of %s for allStocks: %s", symbol, error.message)
            return None

    found = await asyncio.gather(*(latest(symbol) for symbol in symbols))
    return [event for event in found if event is not None]


def _offer(message: bytes, sent: _NewestSent, direct: Callable[[PriceUpdated], bool]) -> bool:
    """all_prices' hand-off: True for what is skipped either way (undecodable, not new), and
    for what `direct` delivered."""
    event = _decoded(message)
    if event is None or not sent.is_new(event):
        return True
    if not direct(event):
        return False
    sent.take(event)
    return True


def _decoded(message: bytes) -> PriceUpdated | None:
    try:
        return decode_price(message)
    except ValueError as error:
        log.warning("skipping an undecodable price message: %s", error)
        return None


async def notifications_of(bus: EventBus, channel: str) -> AsyncGenerator[Notification, None]:
    """Live notifications of one user. A consumer that falls too far behind is ended with
    SubscriberOverflow (nothing is lost: every notification is stored before it is sent)."""
    async with bus.subscribe(channel) as subscription:
        async for message in subscription:
            yield notification_from_json(message)


async def predictions_of(bus: EventBus, channel: str) -> AsyncGenerator[PredictionMade, None]:
    async with bus.subscribe(channel) as subscription:
        async for message in subscription:
            yield prediction_from_json(message)
