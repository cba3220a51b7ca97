"""Personal notifications: the Notification value, the NotificationStore port, the Notifier that
stores and publishes them, and the AlertService whose firing alerts become notifications."""

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

from domain.accounts import SymbolCheck
from domain.alerts import (
    MAX_ACTIVE_ALERTS,
    Alert,
    AlertCondition,
    AlertFrequency,
    AlertStore,
    Evaluation,
    TooManyAlerts,
    describe_firing,
    evaluate_price,
    evaluate_recommendation,
    new_alert,
    too_many_alerts,
)
from domain.errors import InvalidInput, SymbolNotFound
from domain.events import EventBus, PriceUpdated, user_channel

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


class AlertService:
    """Users' alerts: create, list and delete them, and evaluate them on events, notifying
    each firing one (PRICE_ALERT; PREDICTION_UPDATE for recommendation changes).
    `symbol_exists` tells whether the market data provider knows a symbol."""

    def __init__(
        self,
        *,
        store: AlertStore,
        notifier: Notifier,
        symbol_exists: SymbolCheck,
        max_active: int = MAX_ACTIVE_ALERTS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._symbol_exists = symbol_exists
        self._max_active = max_active
        self._clock = clock
        self._new_id = new_id

    async def create(
        self,
        user_id: str,
        *,
        symbol: str,
        condition: AlertCondition,
        threshold: float | None = None,
        frequency: AlertFrequency = AlertFrequency.ONCE,
        expires_at: datetime | None = None,
    ) -> Alert:
        """Create an active alert (see domain.alerts.new_alert for the rules). Raises
        ValidationFailed for bad fields or when the user already has the maximum of active
        alerts, NotFound when the provider does not know the symbol."""
        alert = new_alert(
            id=self._new_id(),
            user_id=user_id,
            symbol=symbol,
            condition=condition,
            threshold=threshold,
            frequency=frequency,
            expires_at=expires_at,
            now=self._clock(),
        )
        if not await self._symbol_exists(alert.symbol):
            raise SymbolNotFound(alert.symbol)
        try:
            await self._store.add(alert, max_active=self._max_active)
        except TooManyAlerts as error:
            raise too_many_alerts(self._max_active) from error
        return alert

    async def alerts_of(self, user_id: str) -> list[Alert]:
        """The user's alerts, active or not, oldest first."""
        return await self._store.for_user(user_id)

    async def delete(self, user_id: str, alert_id: str) -> bool:
        """Delete the user's alert; False for an unknown id or another user's alert (which
        stays)."""
        return await self._store.delete(user_id, alert_id)

    async def on_price(self, event: PriceUpdated, rsi: float | None = None) -> list[Notification]:
        """Evaluate the symbol's active alerts on `event` (with the symbol's RSI when known),
        save their new state and notify every user whose alert fires. Returns the notifications
        sent. An alert whose state another evaluation changed first is skipped; a failure with
        one alert is logged and the others still run."""
        now = self._clock()
        sent: list[Notification] = []
        for alert in await self._store.active_for_symbol(event.symbol):
            outcome = evaluate_price(alert, event, now=now, rsi=rsi)
            message = ""
            if outcome.fired:
                message = describe_firing(alert, price=event.price, value=outcome.value)
            details = {"price": event.price, "value": outcome.value}
            notification = await self._apply(
                alert, outcome, NotificationType.PRICE_ALERT, message, details
            )
            if notification is not None:
                sent.append(notification)
        return sent

    async def on_recommendation_changed(
        self, symbol: str, old: str | None, new: str
    ) -> list[Notification]:
        """Evaluate the symbol's RECOMMENDATION_CHANGED alerts on a change of its stored
        recommendation from `old` to `new` ("BUY", "SELL", "HOLD"; old None for the first one,
        which does not fire). Firing alerts are notified as PREDICTION_UPDATE. Returns the
        notifications sent."""
        now = self._clock()
        sent: list[Notification] = []
        for alert in await self._store.active_for_symbol(symbol):
            outcome = evaluate_recommendation(alert, symbol=symbol, old=old, new=new, now=now)
            message = f"{symbol} recommendation changed from {old} to {new}"
            details = {"old": old, "new": new}
            notification = await self._apply(
                alert, outcome, NotificationType.PREDICTION_UPDATE, message, details
            )
            if notification is not None:
                sent.append(notification)
        return sent

    async def deactivate_expired(self) -> int:
        """Deactivate every alert that has expired by now; returns how many."""
        return await self._store.deactivate_expired(self._clock())

    async def _apply(
        self,
        alert: Alert,
        outcome: Evaluation,
        type: NotificationType,
        message: str,
        details: dict[str, Any],
    ) -> Notification | None:
        try:
            # Saving the state first claims the firing: of two evaluations racing on one
            # alert, only the one whose save succeeds notifies.
            if outcome.alert != alert and not await self._store.save_state(alert, outcome.alert):
                return None
            if not outcome.fired:
                return None
            data = {
                "alertId": alert.id,
                "condition": alert.condition.value,
                "threshold": alert.threshold,
                "frequency": alert.frequency.value,
                **details,
            }
            return await self._notifier.send(
                alert.user_id, type, message, symbol=alert.symbol, data=data
            )
        except Exception:  # one user's alert must not stop the others'
            log.exception("evaluating alert %s of user %s failed", alert.id, alert.user_id)
            return None
