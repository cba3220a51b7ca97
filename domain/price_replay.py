"""A symbol's price events from a point on: stored ones first, then live, no gap, no duplicate.

This is what the stockPrice subscription streams.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from domain.errors import InvalidInput
from domain.events import EventBus, PriceFeed, PriceUpdated, stock_channel
from domain.price_codec import decode_price
from domain.sequences import SequenceKey, format_sequence, parse_sequence

log = logging.getLogger(__name__)

REPLAY_BATCH = 1000


async def replay_then_live(
    feed: PriceFeed,
    bus: EventBus,
    symbol: str,
    after: str | None,
    *,
    direct: Callable[[PriceUpdated], bool] | None = None,
) -> AsyncGenerator[PriceUpdated, None]:
    """With `after`, the stored events of `symbol` after that sequence, oldest first, then the
    live ones; without, the latest stored event (a snapshot, if any), then the live ones.

    It subscribes before it reads the feed, so an event appended in between is both stored
    and live: live events are skipped unless their sequence (compared as numbers) is greater
    than the last one yielded. The subscription keeps only the newest pending event (a slow
    consumer gets the latest price, not a growing backlog); as events pile up while the
    replay is being consumed, the feed is read once more when live events start, for those
    in between. Raises InvalidInput (field "after") for a malformed `after`, before
    subscribing. Close the iterator (contextlib.aclosing) to unsubscribe at once.

    `direct`, when given, is offered each live event that would be yielded next, on arrival
    (see Subscription.hand_off): when it returns True the event counts as delivered and is
    not yielded. Not the first live event after a replay or snapshot, which may have a gap
    to fill from the feed first.
    """
    last = None if after is None else parse_sequence(after)
    async with bus.subscribe(stock_channel(symbol), keep_latest_only=True) as subscription:
        if last is None:
            snapshot = await feed.latest(symbol)
            if snapshot is not None:
                yield snapshot
                last = parse_sequence(snapshot.sequence)
        else:
            async with aclosing(_stored_after(feed, symbol, last)) as stored:
                async for event in stored:
                    yield event
                    last = parse_sequence(event.sequence)
        # Without anything stored there is no point to continue from, hence nothing to fill.
        fill_in = last is not None

        def deliver_live(message: bytes) -> bool:
            nonlocal last
            if fill_in or direct is None:
                return False
            live = _decode(message)
            if live is None:
                return True  # skipped, as below
            event, key = live
            if last is not None and key <= last:
                return True
            if not direct(event):
                return False
            last = key
            return True

        if direct is not None:
            subscription.hand_off(deliver_live)
        async for message in subscription:
            live = _decode(message)
            if live is None:
                continue
            event, key = live
            if last is not None:
                if key <= last:
                    continue
                if fill_in:
                    fill_in = False
                    async with aclosing(_stored_after(feed, symbol, last)) as stored:
                        async for missed in stored:
                            yield missed
                            last = parse_sequence(missed.sequence)
                    if key <= last:
                        continue
            yield event
            last = key


async def _stored_after(
    feed: PriceFeed, symbol: str, start: SequenceKey
) -> AsyncGenerator[PriceUpdated, None]:
    """Every stored event after `start`, read in batches."""
    while True:
        batch = await feed.after(symbol, format_sequence(start), limit=REPLAY_BATCH)
        for event in batch:
            yield event
        if len(batch) < REPLAY_BATCH:
            return
        start = parse_sequence(batch[-1].sequence)


def _decode(message: bytes) -> tuple[PriceUpdated, SequenceKey] | None:
    try:
        event = decode_price(message)
        return event, parse_sequence(event.sequence, field="sequence")
    except (ValueError, InvalidInput) as error:
        # Someone else's message on the channel must not end the subscriber's stream.
        log.warning("Skipping a live price message that is not a stored PriceUpdated: %s", error)
        return None
