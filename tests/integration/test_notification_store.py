"""SqlNotificationStore on SQLite and PostgreSQL (both migrated to head)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.notification_store import SqlNotificationStore
from domain.notifications import Notification, NotificationType

NOW = datetime(2024, 5, 3, 14, 30, 15, 123_456, tzinfo=UTC)
_ids = itertools.count(1)


def notification(user_id: str = "u1", *, minutes: int = 0, read: bool = False) -> Notification:
    return Notification(
        id=f"n{next(_ids):031d}",
        user_id=user_id,
        type=NotificationType.PRICE_ALERT,
        message="AAPL crossed above 180.00 at 180.42",
        created_at=NOW + timedelta(minutes=minutes),
        symbol="AAPL",
        data={"alertId": "a1", "price": 180.42, "threshold": 180.0, "value": None},
        read=read,
    )


@pytest.fixture
def store(engine: AsyncEngine) -> SqlNotificationStore:
    return SqlNotificationStore(engine)


async def add_all(store: SqlNotificationStore, *notifications: Notification) -> None:
    for each in notifications:
        await store.add(each)


async def test_an_added_notification_reads_back_equal(store: SqlNotificationStore) -> None:
    added = notification()
    await store.add(added)
    assert await store.list("u1") == [added]


async def test_a_notification_without_symbol_or_data_reads_back_equal(
    store: SqlNotificationStore,
) -> None:
    added = Notification("n1", "u1", NotificationType.ACCOUNT_UPDATE, "changed", NOW)
    await store.add(added)
    assert await store.list("u1") == [added]


async def test_list_is_newest_first_and_only_the_users_own(store: SqlNotificationStore) -> None:
    old, new, other = notification(minutes=0), notification(minutes=5), notification("u2")
    await add_all(store, new, other, old)
    assert await store.list("u1") == [new, old]


async def test_list_stops_at_the_limit(store: SqlNotificationStore) -> None:
    added = [notification(minutes=m) for m in range(5)]
    await add_all(store, *added)
    assert await store.list("u1", limit=2) == [added[4], added[3]]


async def test_list_of_unread_only_leaves_out_read_ones(store: SqlNotificationStore) -> None:
    unread, read = notification(minutes=1), notification(minutes=2, read=True)
    await add_all(store, unread, read)
    assert await store.list("u1", unread_only=True) == [unread]


async def test_mark_read_without_ids_marks_all_the_users_unread(
    store: SqlNotificationStore,
) -> None:
    await add_all(
        store, notification(), notification(), notification(read=True), notification("u2")
    )
    assert await store.mark_read("u1", None) == 2
    assert [n.read for n in await store.list("u1")] == [True, True, True]
    assert [n.read for n in await store.list("u2")] == [False]


async def test_mark_read_by_ids_counts_only_the_users_own_unread_ones(
    store: SqlNotificationStore,
) -> None:
    mine, already, other = notification(), notification(read=True), notification("u2")
    await add_all(store, mine, already, other)
    assert await store.mark_read("u1", [mine.id, already.id, other.id, "unknown"]) == 1
    assert await store.list("u2", unread_only=True) == [other]
    assert await store.mark_read("u1", [mine.id]) == 0


async def test_delete_older_than_keeps_what_is_at_or_after_the_cutoff(
    store: SqlNotificationStore,
) -> None:
    old, at_cutoff = notification(minutes=-1), notification(minutes=0)
    await add_all(store, old, at_cutoff, notification("u2", minutes=-5))
    assert await store.delete_older_than(NOW) == 2
    assert await store.list("u1") == [at_cutoff]
