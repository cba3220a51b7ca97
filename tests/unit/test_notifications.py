"""Notifier and AlertService with in-memory stores and bus: storing before publishing, alert
management, and alerts firing into notifications."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.accounts import ValidationFailed
from domain.alerts import Alert, AlertCondition, AlertFrequency, TooManyAlerts
from domain.errors import InvalidInput, NotFound
from domain.events import PriceUpdated, Subscription, user_channel
from domain.notifications import (
    AlertService,
    Notification,
    NotificationType,
    Notifier,
    notification_from_json,
    notification_json,
)

NOW = datetime(2024, 5, 3, 14, 30, tzinfo=UTC)
C = AlertCondition


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

    async def active_for_symbol(self, symbol: str) -> list[Alert]:
        return [a for a in self.alerts.values() if a.symbol == symbol and a.active]

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


@pytest.fixture
def notifications() -> MemoryNotificationStore:
    return MemoryNotificationStore()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


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


@pytest.fixture
def alerts() -> MemoryAlertStore:
    return MemoryAlertStore()


@pytest.fixture
def service(
    alerts: MemoryAlertStore, notifications: MemoryNotificationStore, bus: RecordingBus
) -> AlertService:
    return alert_service(alerts, notifications, bus)


def tick(value: float, *, symbol: str = "AAPL") -> PriceUpdated:
    return PriceUpdated(symbol=symbol, price=value, timestamp=NOW)


# ---------------------------------------------------------------- Notifier


async def test_notify_stores_then_publishes_on_the_users_channel(
    notifications: MemoryNotificationStore, bus: RecordingBus
) -> None:
    sent = await notifier(notifications, bus).send(
        "u1", NotificationType.PRICE_ALERT, "AAPL is above 180.00 at 181.00", symbol="AAPL"
    )
    assert notifications.items == [sent]
    assert bus.published == [(user_channel("u1"), notification_json(sent))]


async def test_a_failed_publish_keeps_the_stored_notification(
    notifications: MemoryNotificationStore,
) -> None:
    sent = await notifier(notifications, RecordingBus(failing=True)).send(
        "u1", NotificationType.ACCOUNT_UPDATE, "hello"
    )
    assert notifications.items == [sent]


def test_the_published_json_round_trips() -> None:
    notification = Notification(
        id="n1",
        user_id="u1",
        type=NotificationType.PRICE_ALERT,
        message="m",
        created_at=NOW,
        symbol="AAPL",
        data={"price": 1.5, "alertId": "a1"},
    )
    assert b'"created_at":"2024-05-03T14:30:00Z"' in notification_json(notification)
    assert notification_from_json(notification_json(notification)) == notification


async def test_account_updated_sends_an_account_update(
    notifications: MemoryNotificationStore, bus: RecordingBus
) -> None:
    sent = await notifier(notifications, bus).account_updated("u1", "email")
    assert (sent.type, sent.message, sent.data) == (
        NotificationType.ACCOUNT_UPDATE,
        "Your account's email was changed",
        {"what": "email"},
    )


@pytest.mark.parametrize("limit", [0, 201])
async def test_recent_refuses_a_limit_outside_1_to_200(
    notifications: MemoryNotificationStore, bus: RecordingBus, limit: int
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await notifier(notifications, bus).recent("u1", limit=limit)
    assert caught.value.field == "limit"


async def test_mark_read_of_no_ids_changes_nothing(
    notifications: MemoryNotificationStore, bus: RecordingBus
) -> None:
    sender = notifier(notifications, bus)
    await sender.send("u1", NotificationType.ACCOUNT_UPDATE, "hello")
    assert await sender.mark_read("u1", []) == 0
    assert await sender.mark_read("u1", None) == 1


async def test_purge_deletes_what_is_older_than_the_age(
    notifications: MemoryNotificationStore, bus: RecordingBus
) -> None:
    sender = notifier(notifications, bus)
    old = Notification("old", "u1", NotificationType.ACCOUNT_UPDATE, "m", NOW - timedelta(days=31))
    await sender.notify(old)
    await sender.send("u1", NotificationType.ACCOUNT_UPDATE, "new")
    assert await sender.purge(older_than=timedelta(days=30)) == 1
    assert [n.message for n in notifications.items] == ["new"]


# ---------------------------------------------------------------- AlertService


async def test_create_stores_an_active_alert(service: AlertService) -> None:
    created = await service.create("u1", symbol="aapl", condition=C.PRICE_ABOVE, threshold=180)
    assert await service.alerts_of("u1") == [created]
    assert (created.symbol, created.active, created.frequency) == (
        "AAPL",
        True,
        AlertFrequency.ONCE,
    )


async def test_create_for_an_unknown_symbol_is_not_found(service: AlertService) -> None:
    with pytest.raises(NotFound):
        await service.create("u1", symbol="ZZZZ", condition=C.PRICE_ABOVE, threshold=1)
    assert await service.alerts_of("u1") == []


async def test_create_past_the_active_limit_is_a_validation_failure(
    service: AlertService,
) -> None:
    for _ in range(3):
        await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=1)
    with pytest.raises(ValidationFailed) as caught:
        await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=1)
    assert [p.code for p in caught.value.problems] == ["TOO_MANY"]


async def test_delete_of_another_users_alert_keeps_it(service: AlertService) -> None:
    created = await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=1)
    assert await service.delete("u2", created.id) is False
    assert await service.delete("u1", "unknown") is False
    assert await service.delete("u1", created.id) is True
    assert await service.alerts_of("u1") == []


async def test_a_firing_alert_notifies_its_user_with_the_numbers(
    service: AlertService, alerts: MemoryAlertStore, notifications: MemoryNotificationStore
) -> None:
    created = await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=180)
    await service.create("u2", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=200)

    sent = await service.on_price(tick(180.42))

    assert [(n.user_id, n.type, n.symbol, n.message) for n in sent] == [
        ("u1", NotificationType.PRICE_ALERT, "AAPL", "AAPL is above 180.00 at 180.42")
    ]
    assert sent[0].data == {
        "alertId": created.id,
        "condition": "PRICE_ABOVE",
        "threshold": 180.0,
        "frequency": "ONCE",
        "price": 180.42,
        "value": 180.42,
    }
    assert notifications.items == sent
    assert alerts.alerts[created.id].active is False
    assert alerts.alerts[created.id].last_triggered_at == NOW


async def test_a_once_alert_fires_once(service: AlertService) -> None:
    await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=180)
    assert len(await service.on_price(tick(181))) == 1
    assert await service.on_price(tick(182)) == []


async def test_a_crossing_alert_fires_after_its_state_was_saved(
    service: AlertService, alerts: MemoryAlertStore
) -> None:
    created = await service.create(
        "u1",
        symbol="AAPL",
        condition=C.CROSSES_ABOVE,
        threshold=180,
        frequency=AlertFrequency.EVERY_TIME,
    )
    assert await service.on_price(tick(179)) == []
    assert alerts.alerts[created.id].last_value == 179
    sent = await service.on_price(tick(180.42))
    assert [n.message for n in sent] == ["AAPL crossed above 180.00 at 180.42"]


async def test_an_alert_changed_by_another_evaluation_is_not_notified_again(
    service: AlertService, alerts: MemoryAlertStore
) -> None:
    created = await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=180)
    stale = alerts.alerts[created.id]
    alerts.alerts[created.id] = replace(stale, active=False, last_triggered_at=NOW)

    async def stale_read(symbol: str) -> list[Alert]:
        return [stale]

    alerts.active_for_symbol = stale_read  # type: ignore[method-assign]
    assert await service.on_price(tick(181)) == []


async def test_recommendation_alerts_notify_a_prediction_update(service: AlertService) -> None:
    await service.create("u1", symbol="AAPL", condition=C.RECOMMENDATION_CHANGED)
    sent = await service.on_recommendation_changed("AAPL", "HOLD", "BUY")
    assert [(n.type, n.message) for n in sent] == [
        (NotificationType.PREDICTION_UPDATE, "AAPL recommendation changed from HOLD to BUY")
    ]


async def test_deactivate_expired_deactivates_only_expired_alerts(
    service: AlertService, alerts: MemoryAlertStore
) -> None:
    expiring = await service.create(
        "u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=1, expires_at=NOW + timedelta(1)
    )
    lasting = await service.create("u1", symbol="AAPL", condition=C.PRICE_ABOVE, threshold=1)
    alerts.alerts[expiring.id] = replace(expiring, expires_at=NOW)
    assert await service.deactivate_expired() == 1
    assert (alerts.alerts[expiring.id].active, alerts.alerts[lasting.id].active) == (False, True)
