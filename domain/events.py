"""Real-time events and the ports that carry them: the price feed (replayable, per symbol)
and the event bus (fan-out to every replica's subscribers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson


def stock_channel(symbol: str) -> str:
    return f"stock:{symbol}"


ALL_STOCKS_CHANNEL = "stocks:all"


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


def predictions_channel(symbol: str) -> str:
    return f"predictions:{symbol}"


@dataclass(frozen=True, slots=True)
class PriceUpdated:
    """A new price of a symbol. `sequence` is the feed's opaque, strictly increasing id per
    symbol (the Redis Stream entry id), empty until the event is appended to the feed.
    `change_percent` is percent, not a fraction."""

    symbol: str
    price: float
    timestamp: datetime
    volume: float | None = None
    change: float | None = None
    change_percent: float | None = None
    sequence: str = ""


class Subscription(Protocol):
    """Messages of one channel, as they arrive, until the subscription ends."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def hand_off(self, handler: Callable[[bytes], bool] | None) -> None:
        """Offer each message to `handler` as it arrives (synchronously, in the bus's task)
        while the consumer is waiting for the next one and none is pending: True means the
        handler dealt with it and it is not iterated, False queues it as usual. A consumer
        that can deliver on the spot is then not woken up for every message. None stops it."""
        ...


class EventBus(Protocol):
    """Publish/subscribe over named channels, shared by every replica (Redis) or in-process.

    Delivery is at most once and live only: a subscriber sees messages published after its
    subscription is ready. What must not be lost is persisted before it is published."""

    async def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(
        self,
        channel: str,
        *,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[bytes], Hashable] | None = None,
    ) -> AbstractAsyncContextManager[Subscription]:
        """A subscription whose pending messages are bounded: with `keep_latest_only` only
        the newest pending message is kept (one symbol's prices); with `keep_latest_per`, a
        function giving a message's key, the newest pending message of each key (the prices
        of every symbol: see price_codec.price_symbol); otherwise a subscriber that falls too
        far behind is ended (its iterator raises SubscriberOverflow) so that it can resume."""
        ...


class SubscriberOverflow(Exception):
    """A subscriber fell too far behind and its subscription was ended."""


class PriceFeed(Protocol):
    """Every price event per symbol, kept (capped) for replay: Redis Streams or a ring."""

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        """Store the event (giving it its sequence) and publish it on the symbol's channel
        and on ALL_STOCKS_CHANNEL. Returns the event with its sequence."""
        ...

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        """Stored events of `symbol` with a sequence greater than `sequence`, oldest first.
        Raises InvalidInput for a malformed sequence."""
        ...

    async def latest(self, symbol: str) -> PriceUpdated | None: ...


ALL_PREDICTIONS_CHANNEL = "predictions:all"


@dataclass(frozen=True, slots=True)
class PredictionMade:
    """A stored prediction, as its subscribers see it. `recommendation` is BUY, SELL or HOLD;
    `confidence` is the probability of that recommendation, 0..1."""

    symbol: str
    recommendation: str
    confidence: float
    prediction_id: str
    timestamp: datetime


def prediction_json(event: PredictionMade) -> bytes:
    return orjson.dumps(
        {
            "symbol": event.symbol,
            "recommendation": event.recommendation,
            "confidence": event.confidence,
            "prediction_id": event.prediction_id,
            "timestamp": event.timestamp,
        }
    )


def prediction_from_json(message: bytes) -> PredictionMade:
    fields = orjson.loads(message)
    return PredictionMade(
        symbol=fields["symbol"],
        recommendation=fields["recommendation"],
        confidence=float(fields["confidence"]),
        prediction_id=fields["prediction_id"],
        timestamp=datetime.fromisoformat(fields["timestamp"]),
    )


# Every api process and worker predicts with the active model: activating one is announced
# here, and each process loads it (see domain/model_activation.py).
MODEL_ACTIVATIONS_CHANNEL = "models:activated"


@dataclass(frozen=True, slots=True)
class ModelActivated:
    """A trained model became the active one (it is stored and committed before this is
    published)."""

    version: str
    activated_at: datetime


def model_activation_json(event: ModelActivated) -> bytes:
    return orjson.dumps({"version": event.version, "activated_at": event.activated_at})


def model_activation_from_json(message: bytes) -> ModelActivated:
    """Raises ValueError (orjson.JSONDecodeError is one), KeyError or TypeError for a message
    that is not a ModelActivated."""
    fields = orjson.loads(message)
    return ModelActivated(
        version=str(fields["version"]),
        activated_at=datetime.fromisoformat(fields["activated_at"]),
    )


# Events announced within one process to domain.reactions (never on the bus).


@dataclass(frozen=True, slots=True)
class RecommendationChanged:
    """A symbol's stored recommendation changed ("BUY", "SELL", "HOLD")."""

    symbol: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class DailyBarAdded:
    """A symbol's stored daily history gained a new bar."""

    symbol: str
