"""AlertService: users' alerts created, listed and deleted, and evaluated on price and
recommendation events, each firing one notified."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.alerts.evaluation import (
    Evaluation,
    describe_firing,
    evaluate_price,
    evaluate_recommendation,
)
from domain.alerts.model import (
    MAX_ACTIVE_ALERTS,
    Alert,
    AlertCondition,
    AlertFrequency,
    AlertStore,
    TooManyAlerts,
    new_alert,
    too_many_alerts,
)
from domain.batched_lookups import BatchedLookup
from domain.errors import SymbolCheck, SymbolNotFound
from domain.events import PriceUpdated
from domain.notifications import Notification, NotificationType, Notifier

log = logging.getLogger(__name__)


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
        # Prices of many symbols are evaluated at once (the stream's publish rounds): their
        # alerts are read in one query (domain/batched_lookups.py).
        self._active = BatchedLookup(store.active_for_symbols, missing=list[Alert])

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
        for alert in await self._active.get(event.symbol):
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
        for alert in await self._active.get(symbol):
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
