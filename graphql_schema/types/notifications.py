"""GraphQL types of notifications: Notification and its type enum."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain import notifications as domain

NotificationType = domain.NotificationType
strawberry.enum(NotificationType, name="NotificationType")


@strawberry.type
class Notification:
    id: strawberry.ID
    type: NotificationType
    symbol: str | None
    message: str
    data: JSON | None
    read: bool
    created_at: datetime

    @classmethod
    def from_domain(cls, notification: domain.Notification) -> "Notification":
        return cls(
            id=strawberry.ID(notification.id),
            type=notification.type,
            symbol=notification.symbol,
            message=notification.message,
            data=JSON(notification.data) if notification.data is not None else None,
            read=notification.read,
            created_at=notification.created_at,
        )
