"""GraphQL payloads of subscriptions: price updates and prediction updates."""

from datetime import datetime

import strawberry

from domain import events
from domain.signals.recommendations import Recommendation
from graphql_schema.fanout.payloads import one_payload_per_event, shared_by_subscribers
from graphql_schema.types import predictions as _predictions  # noqa: F401 - registers the enum


@shared_by_subscribers
@strawberry.type(
    description="Mirrors the websocket message {type: 'stock_price_update', symbol, price, "
    "timestamp}."
)
class StockPriceUpdate:
    type: str
    symbol: str
    price: float
    volume: float | None
    change: float | None
    change_percent: float | None
    timestamp: datetime
    sequence: str = strawberry.field(
        description="Opaque, strictly increasing per symbol; pass it back as `after` to resume "
        "without gaps."
    )

    @classmethod
    @one_payload_per_event
    def from_domain(cls, event: events.PriceUpdated) -> "StockPriceUpdate":
        return cls(
            type="stock_price_update",
            symbol=event.symbol,
            price=event.price,
            volume=event.volume,
            change=event.change,
            change_percent=event.change_percent,
            timestamp=event.timestamp,
            sequence=event.sequence,
        )


@shared_by_subscribers
@strawberry.type(
    description="Mirrors the websocket message {type: 'prediction_update', symbol, prediction, "
    "timestamp}."
)
class PredictionUpdate:
    type: str
    symbol: str
    prediction: Recommendation
    confidence: float
    prediction_id: strawberry.ID
    timestamp: datetime

    @classmethod
    @one_payload_per_event
    def from_domain(cls, event: events.PredictionMade) -> "PredictionUpdate":
        return cls(
            type="prediction_update",
            symbol=event.symbol,
            prediction=Recommendation(event.recommendation),
            confidence=event.confidence,
            prediction_id=strawberry.ID(event.prediction_id),
            timestamp=event.timestamp,
        )
