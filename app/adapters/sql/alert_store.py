"""AlertStore on SQL: the alerts table, with the per-user limit of active alerts kept under
concurrency and compare-and-set state updates for evaluations."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sql.database import one_statement
from app.adapters.sql.tables import AlertRow
from domain.alerts.model import Alert, AlertCondition, AlertFrequency, TooManyAlerts

# SQLModel does not declare __table__ to type checkers.
ALERTS: Table = AlertRow.__table__  # type: ignore[attr-defined]


class SqlAlertStore:
    """domain.alerts.AlertStore on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def add(self, alert: Alert, *, max_active: int) -> None:
        """Insert `alert`; raises TooManyAlerts, inserting nothing, when its user already has
        `max_active` active alerts not expired at alert.created_at.

        Concurrent adds of one user take turns: PostgreSQL through a transaction-scoped advisory
        lock on the user (a row lock cannot cover rows that do not exist yet), SQLite because
        the insert comes first and takes its single writer lock before the count.
        """
        async with self._engine.begin() as connection:
            if self._postgres:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"alerts:{alert.user_id}"},
                )
            await connection.execute(insert(ALERTS).values(_row(alert)))
            active = await _active_count(connection, alert.user_id, alert.created_at)
            if active > max_active:
                # Raising rolls the insert back with the transaction.
                raise TooManyAlerts(f"at most {max_active} active alerts")

    async def get(self, alert_id: str) -> Alert | None:
        """The alert with this id, or None."""
        async with one_statement(self._engine) as connection:
            row = (await connection.execute(select(ALERTS).where(ALERTS.c.id == alert_id))).first()
        return None if row is None else _alert(row)

    async def for_user(self, user_id: str) -> list[Alert]:
        """The user's alerts, active or not, oldest first."""
        query = (
            select(ALERTS)
            .where(ALERTS.c.user_id == user_id)
            .order_by(ALERTS.c.created_at, ALERTS.c.id)
        )
        async with one_statement(self._engine) as connection:
            return [_alert(row) for row in await connection.execute(query)]

    async def active_for_symbols(self, symbols: Collection[str]) -> dict[str, list[Alert]]:
        """Every user's active alerts on each of `symbols`, oldest first; symbols without
        any are left out."""
        query = (
            select(ALERTS)
            .where(ALERTS.c.symbol.in_(symbols), ALERTS.c.active.is_(True))
            .order_by(ALERTS.c.created_at, ALERTS.c.id)
        )
        found: dict[str, list[Alert]] = {}
        async with one_statement(self._engine) as connection:
            for row in await connection.execute(query):
                alert = _alert(row)
                found.setdefault(alert.symbol, []).append(alert)
        return found

    async def save_state(self, previous: Alert, updated: Alert) -> bool:
        """Write updated's active, last_triggered_at and last_value if the row still holds
        previous's; False when it changed meanwhile or is gone.

        On PostgreSQL a racing update waits for the first one's row lock and then re-checks the
        condition against the committed row, so exactly one of them succeeds.
        """
        statement = (
            update(ALERTS)
            .where(
                ALERTS.c.id == previous.id,
                ALERTS.c.active == previous.active,
                ALERTS.c.last_triggered_at.is_not_distinct_from(previous.last_triggered_at),
                ALERTS.c.last_value.is_not_distinct_from(previous.last_value),
            )
            .values(
                active=updated.active,
                last_triggered_at=updated.last_triggered_at,
                last_value=updated.last_value,
            )
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def delete(self, user_id: str, alert_id: str) -> bool:
        """Remove the alert if it belongs to `user_id`; True when one was removed."""
        statement = delete(ALERTS).where(ALERTS.c.id == alert_id, ALERTS.c.user_id == user_id)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def deactivate_expired(self, now: datetime) -> int:
        """Deactivate active alerts with expires_at <= now; returns how many."""
        statement = (
            update(ALERTS)
            .where(ALERTS.c.active.is_(True), ALERTS.c.expires_at <= now)
            .values(active=False)
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount


async def _active_count(connection: AsyncConnection, user_id: str, now: datetime) -> int:
    unexpired = or_(ALERTS.c.expires_at.is_(None), ALERTS.c.expires_at > now)
    query = (
        select(func.count())
        .select_from(ALERTS)
        .where(and_(ALERTS.c.user_id == user_id, ALERTS.c.active.is_(True), unexpired))
    )
    count: int = (await connection.execute(query)).scalar_one()
    return count


# Rows <-> alerts: the only two places that know the column layout.


def _row(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "user_id": alert.user_id,
        "symbol": alert.symbol,
        "condition": alert.condition.value,
        "threshold": alert.threshold,
        "frequency": alert.frequency.value,
        "active": alert.active,
        "expires_at": alert.expires_at,
        "last_triggered_at": alert.last_triggered_at,
        "last_value": alert.last_value,
        "created_at": alert.created_at,
    }


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        user_id=row.user_id,
        symbol=row.symbol,
        condition=AlertCondition(row.condition),
        threshold=row.threshold,
        frequency=AlertFrequency(row.frequency),
        created_at=row.created_at,
        active=row.active,
        expires_at=row.expires_at,
        last_triggered_at=row.last_triggered_at,
        last_value=row.last_value,
    )
