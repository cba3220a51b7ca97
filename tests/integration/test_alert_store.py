"""SqlAlertStore on SQLite and PostgreSQL (both migrated to head)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.alert_store import SqlAlertStore
from domain.alerts.model import Alert, AlertCondition, AlertFrequency, TooManyAlerts

NOW = datetime(2024, 5, 3, 14, 30, 15, 123_456, tzinfo=UTC)
_ids = itertools.count(1)


def alert(user_id: str = "u1", symbol: str = "AAPL", **changes: object) -> Alert:
    number = next(_ids)
    base = Alert(
        id=f"alert{number:027d}",
        user_id=user_id,
        symbol=symbol,
        condition=AlertCondition.CROSSES_ABOVE,
        threshold=180.5,
        frequency=AlertFrequency.ONCE_PER_DAY,
        created_at=NOW + timedelta(microseconds=number),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def store(engine: AsyncEngine) -> SqlAlertStore:
    return SqlAlertStore(engine)


async def test_an_added_alert_reads_back_equal(store: SqlAlertStore) -> None:
    added = alert(
        expires_at=NOW + timedelta(days=2),
        last_triggered_at=NOW - timedelta(hours=1),
        last_value=179.25,
    )
    await store.add(added, max_active=50)
    assert await store.get(added.id) == added


async def test_a_recommendation_alert_keeps_its_missing_threshold(store: SqlAlertStore) -> None:
    added = alert(condition=AlertCondition.RECOMMENDATION_CHANGED, threshold=None)
    await store.add(added, max_active=50)
    assert await store.get(added.id) == added


async def test_for_user_lists_only_that_users_alerts_oldest_first(store: SqlAlertStore) -> None:
    first, other, second = alert("u1"), alert("u2"), alert("u1", active=False)
    for each in (second, other, first):
        await store.add(each, max_active=50)
    assert await store.for_user("u1") == [first, second]


async def test_active_for_symbols_leaves_out_inactive_alerts_and_other_symbols(
    store: SqlAlertStore,
) -> None:
    wanted = [alert("u1"), alert("u2")]
    msft = alert(symbol="MSFT")
    for each in [*wanted, alert(active=False), msft, alert(symbol="NVDA")]:
        await store.add(each, max_active=50)
    assert await store.active_for_symbols(["AAPL"]) == {"AAPL": wanted}
    assert await store.active_for_symbols(["AAPL", "MSFT", "IBM"]) == {
        "AAPL": wanted,
        "MSFT": [msft],
    }


async def test_add_refuses_the_alert_past_the_active_limit(store: SqlAlertStore) -> None:
    for _ in range(3):
        await store.add(alert(), max_active=3)
    refused = alert()
    with pytest.raises(TooManyAlerts):
        await store.add(refused, max_active=3)
    assert await store.get(refused.id) is None


async def test_inactive_expired_and_other_users_alerts_do_not_count_to_the_limit(
    store: SqlAlertStore,
) -> None:
    await store.add(alert(active=False), max_active=3)
    await store.add(alert(expires_at=NOW - timedelta(days=1)), max_active=3)
    await store.add(alert("u2"), max_active=3)
    await store.add(alert(), max_active=3)
    await store.add(alert(), max_active=3)
    await store.add(alert(), max_active=3)
    assert len(await store.for_user("u1")) == 5


async def test_the_active_limit_holds_when_adds_race(store: SqlAlertStore) -> None:
    results = await asyncio.gather(
        *(store.add(alert(), max_active=5) for _ in range(12)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, TooManyAlerts)]
    assert [r for r in results if r is not None and not isinstance(r, TooManyAlerts)] == []
    assert len(refused) == 7
    assert len(await store.for_user("u1")) == 5


async def test_save_state_writes_the_evaluation_state(store: SqlAlertStore) -> None:
    added = alert()
    await store.add(added, max_active=50)
    fired = replace(added, active=False, last_triggered_at=NOW, last_value=181.0)
    assert await store.save_state(added, fired) is True
    assert await store.get(added.id) == fired


async def test_save_state_refuses_a_stale_previous_state(store: SqlAlertStore) -> None:
    added = alert()
    await store.add(added, max_active=50)
    first = replace(added, last_value=170.0)
    assert await store.save_state(added, first) is True
    assert await store.save_state(added, replace(added, last_value=190.0)) is False
    assert await store.get(added.id) == first


async def test_only_one_of_two_racing_state_saves_succeeds(store: SqlAlertStore) -> None:
    added = alert(last_value=170.0, last_triggered_at=NOW)
    await store.add(added, max_active=50)
    later = NOW + timedelta(days=1)
    saves = await asyncio.gather(
        *(store.save_state(added, replace(added, last_triggered_at=later)) for _ in range(5))
    )
    assert sorted(saves) == [False, False, False, False, True]


async def test_save_state_of_a_deleted_alert_is_false(store: SqlAlertStore) -> None:
    added = alert()
    await store.add(added, max_active=50)
    assert await store.delete("u1", added.id) is True
    assert await store.save_state(added, replace(added, active=False)) is False


async def test_delete_removes_only_the_owners_alert(store: SqlAlertStore) -> None:
    added = alert("u1")
    await store.add(added, max_active=50)
    assert await store.delete("u2", added.id) is False
    assert await store.delete("u1", "unknown") is False
    assert await store.get(added.id) == added
    assert await store.delete("u1", added.id) is True
    assert await store.get(added.id) is None


async def test_deactivate_expired_deactivates_alerts_expired_by_now(store: SqlAlertStore) -> None:
    expired = alert(expires_at=NOW)
    lasting = alert(expires_at=NOW + timedelta(seconds=1))
    forever = alert()
    for each in (expired, lasting, forever):
        await store.add(each, max_active=50)
    assert await store.deactivate_expired(NOW) == 1
    assert [a.active for a in await store.for_user("u1")] == [False, True, True]
