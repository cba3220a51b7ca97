"""In-memory stand-ins for the alert and notification stores and the event bus, and an
AlertService over them, for unit tests of alerts, notifications and reactions."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Collection, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from domain.alerts.model import Alert, TooManyAlerts
from domain.alerts.service import AlertService
from domain.events import Subscription
from domain.notifications import Notification, Notifier

NOW = datetime(2024, 5, 3, 14, 30, tzinfo=UTC)


class MemoryAlertStore:
    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}

    async def add(self, alert: Alert, *, max_active: int) -> None:
        active = [a for a in self.alerts.values() if a.user_id == alert.user_id and a.active]
        if len(active) >= max_active:
            raise TooManyAlerts
        self.alerts[alert.id] = alert

    async def get(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    async def for_user(self, user_id: str) -> list[Alert]:
        return [a for a in self.alerts.values() if a.user_id == user_id]

    async def active_for_symbols(self, symbols: Collection[str]) -> dict[str, list[Alert]]:
        found: dict[str, list[Alert]] = {}
        for alert in self.alerts.values():
            if alert.symbol in symbols and alert.active:
                found.setdefault(alert.symbol, []).append(alert)
        return found

    async def save_state(self, previous: Alert, updated: Alert) -> bool:
        if self.alerts.get(previous.id) != previous:
            return False
        self.alerts[previous.id] = updated
        return True

    async def delete(self, user_id: str, alert_id: str) -> bool:
        alert = self.alerts.get(alert_id)
        if alert is None or alert.user_id != user_id:
            return False
        del self.alerts[alert_id]
        return True

    async def deactivate_expired(self, now: datetime) -> int:
        expired = [
            a for a in self.alerts.values() if a.active and a.expires_at and a.expires_at <= now
        ]
        for a in expired:
            self.alerts[a.id] = replace(a, active=False)
        return len(expired)


class MemoryNotificationStore:
    def __init__(self) -> None:
        self.items: list[Notification] = []

    async def add(self, notification: Notification) -> None:
        self.items.append(notification)

    async def list(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        mine = [n for n in reversed(self.items) if n.user_id == user_id]
        return [n for n in mine if not (unread_only and n.read)][:limit]

    async def mark_read(self, user_id: str, ids: Sequence[str] | None) -> int:
        changed = 0
        for index, n in enumerate(self.items):
            if n.user_id == user_id and not n.read and (ids is None or n.id in ids):
                self.items[index] = replace(n, read=True)
                changed += 1
        return changed

    async def delete_older_than(self, cutoff: datetime) -> int:
        before = len(self.items)
        self.items = [n for n in self.items if n.created_at >= cutoff]
        return before - len(self.items)


class RecordingBus:
    def __init__(self, *, failing: bool = False) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.failing = failing

    async def publish(self, channel: str, message: bytes) -> None:
        if self.failing:
            raise ConnectionError("bus down")
        self.published.append((channel, message))

    @asynccontextmanager
    async def subscribe(
        self,
        channel: str,
        *,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[bytes], Hashable] | None = None,
    ) -> AsyncIterator[Subscription]:
        raise NotImplementedError
        yield


def notifier(store: MemoryNotificationStore, bus: RecordingBus) -> Notifier:
    ids = (f"n{i}" for i in itertools.count(1))
    return Notifier(store=store, bus=bus, clock=lambda: NOW, new_id=lambda: next(ids))


def alert_service(
    store: MemoryAlertStore, notifications: MemoryNotificationStore, bus: RecordingBus
) -> AlertService:
    async def symbol_exists(symbol: str) -> bool:
        return symbol in {"AAPL", "MSFT"}

    ids = (f"a{i}" for i in itertools.count(1))
    return AlertService(
        store=store,
        notifier=notifier(notifications, bus),
        symbol_exists=symbol_exists,
        max_active=3,
        clock=lambda: NOW,
        new_id=lambda: next(ids),
    )
