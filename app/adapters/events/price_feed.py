"""Price feeds (domain.events.PriceFeed): every price event per symbol, kept capped for
replay, and published on the symbol's channel and on the all-stocks channel.

RedisPriceFeed keeps a Redis Stream per symbol (shared by replicas; the entry id is the
sequence); MemoryPriceFeed a ring per symbol in this process, with sequences of the same form.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace

import redis.asyncio as aioredis

from app.adapters.events.held_prices import HeldPrices
from app.adapters.redis_outage import UNAVAILABLE, OutageLog
from domain.batched_lookups import BatchedLookup
from domain.errors import UpstreamUnavailable
from domain.events import ALL_STOCKS_CHANNEL, EventBus, PriceUpdated, stock_channel
from domain.price_codec import decode_price, encode_price
from domain.sequences import (
    MAX_PART,
    SequenceKey,
    format_sequence,
    parse_sequence,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 10_000
# The stream entry's one field: the encoded event (its sequence is the entry id).
_EVENT_FIELD = b"event"


def stream_key(symbol: str) -> str:
    return f"stockql:stream:{symbol}"


def _check(max_length: int) -> None:
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, not {max_length}")


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


async def _publish(bus: EventBus, event: PriceUpdated) -> None:
    message = encode_price(event)
    await bus.publish(stock_channel(event.symbol), message)
    await bus.publish(ALL_STOCKS_CHANNEL, message)


class RedisPriceFeed:
    """A capped Redis Stream per symbol (`stockql:stream:{SYMBOL}`), shared by replicas.

    Streams are trimmed approximately (MAXLEN ~): Redis removes whole nodes only, so a stream
    holds at least `max_length` entries and somewhat more (up to a node, 100 by default).
    Redis errors are raised (UpstreamUnavailable while Redis is unreachable, or when no pooled
    connection freed up in time): an event that could not be stored is not published, and
    one stored but not published stays stored for replay. The client must return bytes
    (decode_responses=False); its owner closes it. With `held`, the latest event of a symbol
    whose channel this process receives is answered without Redis once it is known (see
    app/adapters/events/held_prices.py).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        bus: EventBus,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        held: HeldPrices | None = None,
    ) -> None:
        _check(max_length)
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisPriceFeed needs a client with decode_responses=False")
        self._client = client
        self._bus = bus
        self._max_length = max_length
        # Thousands of subscriptions read the feed: an outage is logged once, not per call.
        self._outage = OutageLog(log, "Redis price feed", "price subscriptions are refused")
        # Thousands subscribing at once each read their symbol's latest event (twice: the
        # check that it is known, then the snapshot): reads asked while one is under way go
        # together, one pipeline with each symbol once (issue 17 point 4, set-up time).
        self._latest: BatchedLookup[str, PriceUpdated | None] = BatchedLookup(
            self._latest_of, missing=lambda: None
        )
        self._held = held

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        """XADD the event (its entry id becomes the sequence), then publish it."""
        with self._reaching("append"):
            entry_id = await self._client.xadd(
                stream_key(event.symbol),
                {_EVENT_FIELD: encode_price(replace(event, sequence=""))},
                maxlen=self._max_length,
                approximate=True,
            )
            # decode_responses=False (checked at construction) makes replies bytes, never str.
            assert isinstance(entry_id, bytes)
            stored = replace(event, sequence=entry_id.decode())
            await _publish(self._bus, stored)
        return stored

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        """Up to `limit` stored events with a greater sequence, oldest first. Raises
        InvalidInput (field "after") for a malformed sequence, ValueError for a limit < 1."""
        start = parse_sequence(sequence)
        _check_limit(limit)
        if start == (MAX_PART, MAX_PART):
            return []  # Nothing can follow, and Redis refuses an exclusive start past the end.
        # "(" makes the start exclusive (Redis 6.2+).
        with self._reaching("after"):
            entries = await self._client.xrange(
                stream_key(symbol), min=f"({format_sequence(start)}", max="+", count=limit
            )
        return [_stored(entry) for entry in entries or ()]

    async def latest(self, symbol: str) -> PriceUpdated | None:
        held = self._held
        reception = None if held is None else held.reception(symbol)
        if held is None or reception is None:
            return await self._latest.get(symbol)
        known = held.latest(symbol, reception)
        if known is not None:
            return known
        stored = await self._latest.get(symbol)
        if stored is not None:
            held.read(symbol, reception, stored)
        return stored

    async def _latest_of(self, symbols: Collection[str]) -> dict[str, PriceUpdated | None]:
        pipeline = self._client.pipeline(transaction=False)
        for symbol in symbols:
            pipeline.xrevrange(stream_key(symbol), count=1)
        with self._reaching("latest"):
            answers = await pipeline.execute()
        return {
            symbol: _stored(entries[0]) if entries else None
            for symbol, entries in zip(symbols, answers, strict=True)
        }

    @contextmanager
    def _reaching(self, operation: str) -> Iterator[None]:
        """Redis down, or every pooled connection busy past the pool timeout (a burst of new
        subscriptions), as the typed error clients can retry on."""
        try:
            yield
        except UNAVAILABLE as error:
            self._outage.lost(operation, error)
            raise UpstreamUnavailable("Price events are unavailable; try again shortly") from error
        self._outage.found()


def _stored(entry: tuple[object, object]) -> PriceUpdated:
    """The event of a stream entry, (id, fields) as XRANGE returns it."""
    entry_id, fields = entry
    assert isinstance(entry_id, bytes)
    assert isinstance(fields, dict)
    return replace(decode_price(fields[_EVENT_FIELD]), sequence=entry_id.decode())


class MemoryPriceFeed:
    """A ring of the last `max_length` events per symbol, in this process only.

    Sequences have the Redis form `<milliseconds>-<counter>`: the milliseconds of `clock`
    (seconds since the epoch), the counter telling apart events of one millisecond. They
    strictly increase per symbol even when the clock goes back. One ring per symbol appended
    to: the tracked ones (see domain.tracked_symbols), and any other ever subscribed to.
    """

    def __init__(
        self,
        bus: EventBus,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check(max_length)
        self._bus = bus
        self._max_length = max_length
        self._clock = clock
        self._rings: dict[str, deque[tuple[SequenceKey, PriceUpdated]]] = {}

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        """Store the event with the next sequence of its symbol, then publish it."""
        ring = self._rings.setdefault(event.symbol, deque(maxlen=self._max_length))
        # No await between choosing the sequence and storing it: appends cannot interleave.
        milliseconds = int(self._clock() * 1000)
        if ring and ring[-1][0][0] >= milliseconds:
            newest = ring[-1][0]
            key = (newest[0], newest[1] + 1)
        else:
            key = (milliseconds, 0)
        stored = replace(event, sequence=format_sequence(key))
        ring.append((key, stored))
        await _publish(self._bus, stored)
        return stored

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        """See RedisPriceFeed.after."""
        start = parse_sequence(sequence)
        _check_limit(limit)
        newer: list[PriceUpdated] = []
        # From the newest back: a subscriber resuming is usually close to the end.
        for key, event in reversed(self._rings.get(symbol, ())):
            if key <= start:
                break
            newer.append(event)
        newer.reverse()
        return newer[:limit]

    async def latest(self, symbol: str) -> PriceUpdated | None:
        ring = self._rings.get(symbol)
        return ring[-1][1] if ring else None
