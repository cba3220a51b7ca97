"""Notifier and AlertService with in-memory stores and bus: storing before publishing, alert
management, and alerts firing into notifications."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import timedelta

import pytest

from domain.alerts.model import Alert, AlertCondition, AlertFrequency
from domain.alerts.service import AlertService
from domain.errors import InvalidInput, NotFound, ValidationFailed
from domain.events import PriceUpdated, user_channel
from domain.notifications import (
    Notification,
    NotificationType,
    notification_from_json,
    notification_json,
)
from tests.support.notification_fakes import (
    NOW,
    MemoryAlertStore,
    MemoryNotificationStore,
    RecordingBus,
    alert_service,
    notifier,
)

C = AlertCondition


@pytest.fixture
def notifications() -> MemoryNotificationStore:
    return MemoryNotificationStore()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


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

    async def stale_read(symbols: Collection[str]) -> dict[str, list[Alert]]:
        return {"AAPL": [stale]}

    alerts.active_for_symbols = stale_read  # type: ignore[method-assign]
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
