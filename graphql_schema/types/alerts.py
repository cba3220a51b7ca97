"""GraphQL types of alerts: Alert, its condition and frequency enums, the create input and
result union."""

from datetime import datetime
from typing import Annotated

import strawberry

from domain.alerts import model as domain
from graphql_schema.types.errors import NotFoundError, ValidationError

# The domain enums are the GraphQL enums: resolvers receive domain values without a mapping.
AlertCondition = domain.AlertCondition
strawberry.enum(AlertCondition, name="AlertCondition")
AlertFrequency = domain.AlertFrequency
strawberry.enum(AlertFrequency, name="AlertFrequency")


@strawberry.type
class Alert:
    id: strawberry.ID
    symbol: str
    condition: AlertCondition
    threshold: float | None
    frequency: AlertFrequency
    active: bool
    expires_at: datetime | None
    last_triggered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_domain(cls, alert: domain.Alert) -> "Alert":
        return cls(
            id=strawberry.ID(alert.id),
            symbol=alert.symbol,
            condition=alert.condition,
            threshold=alert.threshold,
            frequency=alert.frequency,
            active=alert.active,
            expires_at=alert.expires_at,
            last_triggered_at=alert.last_triggered_at,
            created_at=alert.created_at,
        )


@strawberry.input(
    description="threshold is a price, a percent change or an RSI value by condition; "
    "RECOMMENDATION_CHANGED needs none."
)
class CreateAlertInput:
    symbol: str
    condition: AlertCondition
    threshold: float | None = None
    frequency: AlertFrequency = AlertFrequency.ONCE
    expires_at: datetime | None = None


CreateAlertResult = Annotated[
    Alert | ValidationError | NotFoundError, strawberry.union("CreateAlertResult")
]
