"""The newest price event of each symbol whose channel this process receives, without Redis.

When 10,000 clients subscribe to `stockPrice`, each reads its symbol's latest stored event
twice (the check that the symbol is known, then the snapshot after subscribing): a Redis
round trip and a parsed reply per subscriber, ~10% of the set-up's CPU (issue 17 point 4,
docs/PERFORMANCE.md). Yet while this process holds a symbol's channel it receives every event
published on it, so after one read of the stream it can know the newest one itself.

That holds only while the reception lasts (BroadcastBus.reception): a local subscriber holds
the channel and the pub/sub connection has not been lost since Redis confirmed the SUBSCRIBE.
The newest event is the greatest sequence among a stream read begun during the reception and
every message received during it: an event stored before the read is in the read (or older
than what it returned), and one stored after it is published after it, so it arrives. Until a
read has been made, after the channel is left, and from the moment the connection is lost, the
stream is read as before. What this answers may lag the stream by an event on its way here,
which its subscriber then receives live, as it would after any read; and an event stored but
never published (Redis failed in between) is not seen until the next one is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from domain.errors import InvalidInput
from domain.events import PriceUpdated, stock_channel
from domain.price_codec import decode_price
from domain.sequences import SequenceKey, parse_sequence

if TYPE_CHECKING:
    from app.adapters.events.broadcast import ChannelObserver

_PRICE_CHANNEL_PREFIX = stock_channel("")


class _Receiving(Protocol):
    """What this needs of the bus (BroadcastBus)."""

    def reception(self, channel: str) -> object | None: ...

    def observe(self, observer: ChannelObserver) -> None: ...


@dataclass(slots=True)
class _Newest:
    """What is known of one symbol during one reception."""

    reception: object
    event: PriceUpdated | None = None
    key: SequenceKey | None = None
    # Whether a stream read begun during the reception is folded in: only then is `event`
    # the newest one.
    read: bool = False

    def fold(self, event: PriceUpdated) -> None:
        try:
            key = parse_sequence(event.sequence, field="sequence")
        except InvalidInput:
            return  # not one the stream stored: nothing to compare it with
        if self.key is None or key > self.key:
            self.event, self.key = event, key


class HeldPrices:
    """The newest stored price event of a symbol, when this process can know it (see the
    module docstring). Made by `observing`, which tells the bus to show it what arrives."""

    def __init__(self, bus: _Receiving) -> None:
        self._bus = bus
        self._newest: dict[str, _Newest] = {}

    @classmethod
    def observing(cls, bus: _Receiving) -> HeldPrices:
        """Held prices of what `bus` receives from now on."""
        held = cls(bus)
        bus.observe(held)
        return held

    def reception(self, symbol: str) -> object | None:
        """The reception a read of `symbol`'s stream begun now is made under (None: this
        process does not receive its channel now, and nothing can be known)."""
        return self._bus.reception(stock_channel(symbol))

    def latest(self, symbol: str, reception: object) -> PriceUpdated | None:
        """The newest event of `symbol` during `reception`; None when not known."""
        newest = self._newest.get(symbol)
        if newest is None or not newest.read or newest.reception != reception:
            return None
        return newest.event

    def read(self, symbol: str, reception: object, event: PriceUpdated) -> None:
        """What a stream read begun under `reception` found newest."""
        if self._bus.reception(stock_channel(symbol)) != reception:
            return  # lost meanwhile: the read proves nothing of what came since
        newest = self._record(symbol, reception)
        newest.fold(event)
        newest.read = True

    def received(self, channel: str, message: bytes) -> None:
        symbol = _symbol_of(channel)
        reception = None if symbol is None else self._bus.reception(channel)
        if symbol is None or reception is None:
            return
        try:
            event = decode_price(message)
        except ValueError:
            return  # the subscribers' own decoding logs it
        self._record(symbol, reception).fold(event)

    def left(self, channel: str) -> None:
        symbol = _symbol_of(channel)
        if symbol is not None:
            self._newest.pop(symbol, None)

    def _record(self, symbol: str, reception: object) -> _Newest:
        """The symbol's record for `reception` (the bus's now), begun afresh for a new one."""
        newest = self._newest.get(symbol)
        if newest is None or newest.reception != reception:
            newest = self._newest[symbol] = _Newest(reception)
        return newest


def _symbol_of(channel: str) -> str | None:
    """The symbol of a price channel (stock_channel); None for any other channel."""
    if not channel.startswith(_PRICE_CHANNEL_PREFIX):
        return None
    return channel[len(_PRICE_CHANNEL_PREFIX) :]
