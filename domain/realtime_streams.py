"""The streams subscriptions serve, decoded from the event bus: prices, notifications,
predictions. Each unsubscribes as soon as its consumer closes it."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from domain.events import (
    EventBus,
    PredictionMade,
    PriceFeed,
    PriceUpdated,
    prediction_from_json,
)
from domain.notifications import Notification, notification_from_json
from domain.price_codec import decode_price
from domain.price_replay import replay_then_live
from domain.price_stream import price_event
from domain.quotes import QuoteService

log = logging.getLogger(__name__)


async def prices_of(
    symbol: str,
    after: str | None,
    *,
    quotes: QuoteService,
    feed: PriceFeed,
    bus: EventBus,
    direct: Callable[[PriceUpdated], bool] | None = None,
) -> AsyncGenerator[PriceUpdated, None]:
    """The latest price of a known symbol at once (or, with `after`, everything stored after
    that sequence), then every update. Raises NotFound for an unknown symbol and InvalidInput
    for a malformed `after`, before anything is sent.

    A symbol nobody has published yet gets its current quote stored as the first event, so
    that even the snapshot carries a sequence to resume from. `direct`: see
    replay_then_live."""
    # A symbol with a stored event is known (only quotes are stored): one Redis round trip
    # less for each of the thousands who subscribe at once.
    if after is not None or await feed.latest(symbol) is None:
        quote = await quotes.latest(symbol)  # NotFound for an unknown symbol
        if after is None:
            await feed.append(price_event(quote))
    async with aclosing(replay_then_live(feed, bus, symbol, after, direct=direct)) as events:
        async for event in events:
            yield event


async def all_prices(
    bus: EventBus, channel: str, *, direct: Callable[[PriceUpdated], bool] | None = None
) -> AsyncGenerator[PriceUpdated, None]:
    """Live price events of every symbol; a slow consumer gets the newest pending one.
    `direct`, when given, is offered each event on arrival and what it takes is not yielded
    (see Subscription.hand_off)."""
    async with bus.subscribe(channel, keep_latest_only=True) as subscription:
        if direct is not None:
            subscription.hand_off(lambda message: _offer(message, direct))
        async for message in subscription:
            event = _decoded(message)
            if event is not None:
                yield event


def _offer(message: bytes, direct: Callable[[PriceUpdated], bool]) -> bool:
    event = _decoded(message)
    return event is None or direct(event)  # an undecodable one is skipped either way


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
