"""NotificationStore on SQL: the notifications table, newest first per user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.database import one_statement
from app.adapters.sql.tables import NotificationRow
from domain.notifications import Notification, NotificationType

# SQLModel does not declare __table__ to type checkers.
NOTIFICATIONS: Table = NotificationRow.__table__  # type: ignore[attr-defined]


class SqlNotificationStore:
    """domain.notifications.NotificationStore on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, notification: Notification) -> None:
        async with one_statement(self._engine) as connection:
            await connection.execute(insert(NOTIFICATIONS).values(_row(notification)))

    async def list(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        """The user's notifications, newest first (ties by id, descending), at most `limit`."""
        query = (
            select(NOTIFICATIONS)
            .where(NOTIFICATIONS.c.user_id == user_id)
            .order_by(NOTIFICATIONS.c.created_at.desc(), NOTIFICATIONS.c.id.desc())
            .limit(limit)
        )
        if unread_only:
            query = query.where(NOTIFICATIONS.c.read.is_(False))
        async with one_statement(self._engine) as connection:
            return [_notification(row) for row in await connection.execute(query)]

    async def mark_read(self, user_id: str, ids: Sequence[str] | None) -> int:
        """Mark the user's given (or, with None, all) unread notifications read; returns how
        many changed. Unknown ids and other users' ids match no row."""
        statement = update(NOTIFICATIONS).where(
            NOTIFICATIONS.c.user_id == user_id, NOTIFICATIONS.c.read.is_(False)
        )
        if ids is not None:
            statement = statement.where(NOTIFICATIONS.c.id.in_(list(ids)))
        async with one_statement(self._engine) as connection:
            result = await connection.execute(statement.values(read=True))
        return result.rowcount

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Delete every notification created before `cutoff`; returns how many."""
        statement = delete(NOTIFICATIONS).where(NOTIFICATIONS.c.created_at < cutoff)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount


# Rows <-> notifications: the only two places that know the column layout.


def _row(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "user_id": notification.user_id,
        "type": notification.type.value,
        "symbol": notification.symbol,
        "message": notification.message,
        "data": notification.data,
        "read": notification.read,
        "created_at": notification.created_at,
    }


def _notification(row: Row[Any]) -> Notification:
    return Notification(
        id=row.id,
        user_id=row.user_id,
        type=NotificationType(row.type),
        message=row.message,
        created_at=row.created_at,
        symbol=row.symbol,
        data=row.data,
        read=row.read,
    )
