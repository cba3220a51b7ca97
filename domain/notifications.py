"""Personal notifications: the Notification value, the NotificationStore port, the Notifier that
stores and publishes them (domain.alerts.service turns firing alerts into notifications)."""

from __future__ import annotations

import builtins
import enum
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from domain.errors import InvalidInput
from domain.events import EventBus, user_channel

log = logging.getLogger(__name__)

LIST_LIMIT = (1, 200)
MAX_MARK_IDS = 1000


class NotificationType(enum.Enum):
    PRICE_ALERT = "PRICE_ALERT"
    PREDICTION_UPDATE = "PREDICTION_UPDATE"
    ACCOUNT_UPDATE = "ACCOUNT_UPDATE"


@dataclass(frozen=True, slots=True)
class Notification:
    """Something a user is told. `data` holds the numbers behind `message` (JSON-safe values,
    camelCase keys, sent to clients as they are)."""

    id: str
    user_id: str
    type: NotificationType
    message: str
    created_at: datetime
    symbol: str | None = None
    data: dict[str, Any] | None = None
    read: bool = False


class NotificationStore(Protocol):
    """Where notifications live until they are deleted for age."""

    async def add(self, notification: Notification) -> None: ...

    async def list(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> builtins.list[Notification]:
        """The user's notifications, newest first, at most `limit`."""
        ...

    async def mark_read(self, user_id: str, ids: Sequence[str] | None) -> int:
        """Mark the given notifications of `user_id` read, or all of them when `ids` is None.
        Returns how many changed from unread to read; ids that are unknown, already read or
        another user's count nothing and change nothing."""
        ...

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Delete every notification created before `cutoff`; returns how many."""
        ...


def notification_json(notification: Notification) -> bytes:
    """The message published on the user's channel: the notification's fields in snake_case,
    `type` as its name and `created_at` as ISO-8601 UTC with a "Z" suffix."""
    return orjson.dumps(
        {
            "id": notification.id,
            "user_id": notification.user_id,
            "type": notification.type.value,
            "symbol": notification.symbol,
            "message": notification.message,
            "data": notification.data,
            "read": notification.read,
            "created_at": notification.created_at,
        },
        option=orjson.OPT_UTC_Z,
    )


def notification_from_json(message: bytes) -> Notification:
    """The notification of a message made by notification_json."""
    fields = orjson.loads(message)
    return Notification(
        id=fields["id"],
        user_id=fields["user_id"],
        type=NotificationType(fields["type"]),
        symbol=fields["symbol"],
        message=fields["message"],
        data=fields["data"],
        read=fields["read"],
        created_at=datetime.fromisoformat(fields["created_at"]).astimezone(UTC),
    )


class Notifier:
    """Stores notifications, then publishes them on the user's channel for live subscribers."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        bus: EventBus,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._new_id = new_id

    async def notify(self, notification: Notification) -> Notification:
        """Persist `notification` first, then publish it on user_channel(user_id) as
        notification_json. A failed store raises (nothing is published); a failed publish is
        only logged, since the stored notification still reaches the user's list."""
        await self._store.add(notification)
        try:
            await self._bus.publish(
                user_channel(notification.user_id), notification_json(notification)
            )
        except Exception:  # the notification is stored; live delivery is best effort
            log.warning(
                "publishing notification %s to user %s failed",
                notification.id,
                notification.user_id,
                exc_info=True,
            )
        return notification

    async def send(
        self,
        user_id: str,
        type: NotificationType,
        message: str,
        *,
        symbol: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Notification:
        """Make a new unread notification (id and time from this notifier) and notify it."""
        notification = Notification(
            id=self._new_id(),
            user_id=user_id,
            type=type,
            message=message,
            created_at=self._clock(),
            symbol=symbol,
            data=data,
        )
        return await self.notify(notification)

    async def account_updated(self, user_id: str, what: str) -> Notification:
        """Tell a user that `what` of their account changed ("email", "password", "name", ...)."""
        return await self.send(
            user_id,
            NotificationType.ACCOUNT_UPDATE,
            f"Your account's {what} was changed",
            data={"what": what},
        )

    async def recent(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        """The user's notifications, newest first. Raises InvalidInput (field "limit") unless
        1 <= limit <= 200."""
        low, high = LIST_LIMIT
        if not low <= limit <= high:
            raise InvalidInput(f"limit must be from {low} to {high}", field="limit")
        return await self._store.list(user_id, unread_only=unread_only, limit=limit)

    async def mark_read(self, user_id: str, ids: Sequence[str] | None = None) -> int:
        """Mark the user's given notifications read (all when `ids` is None); returns how many
        changed. Others' and unknown ids are ignored. Raises InvalidInput (field "ids") for
        more than 1000 ids."""
        if ids is not None and len(ids) > MAX_MARK_IDS:
            raise InvalidInput(f"At most {MAX_MARK_IDS} ids at a time", field="ids")
        if ids is not None and not ids:
            return 0
        return await self._store.mark_read(user_id, ids)

    async def purge(self, *, older_than: timedelta) -> int:
        """Delete notifications older than `older_than`; returns how many."""
        return await self._store.delete_older_than(self._clock() - older_than)
