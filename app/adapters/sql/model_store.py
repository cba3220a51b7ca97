"""ModelStore on SQL: the models table, versioned cards and artifacts, at most one active."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sql.database import one_statement
from app.adapters.sql.tables import ModelRow
from domain.predictions import StoredModel

# SQLModel does not declare __table__ to type checkers.
MODELS: Table = ModelRow.__table__  # type: ignore[attr-defined]


class SqlModelStore:
    """domain.predictions.ModelStore on SQLite (aiosqlite) or PostgreSQL (asyncpg).

    The partial unique index uq_models_active allows one active row; activations take turns
    (see _take_turn) so that concurrent ones end with exactly one active model instead of
    failing on the index.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, model: StoredModel, *, activate: bool) -> None:
        """Insert `model` (model.active is ignored: `activate` decides). With `activate` the
        other models are deactivated in the same transaction. Raises ValueError when model.info
        lacks "algorithm" or "trained_at", IntegrityError when the version exists already."""
        row = _row(model, active=activate)
        async with self._engine.begin() as connection:
            if activate:
                await _take_turn(connection)
                await connection.execute(
                    update(MODELS).where(MODELS.c.active.is_(True)).values(active=False)
                )
            await connection.execute(insert(MODELS).values(row))

    async def active(self) -> StoredModel | None:
        """The active model, or None when none is."""
        return await self._one(select(MODELS).where(MODELS.c.active.is_(True)))

    async def active_version(self) -> str | None:
        """The active model's version, or None; reads neither the artifact nor the card."""
        query = select(MODELS.c.version).where(MODELS.c.active.is_(True))
        async with one_statement(self._engine) as connection:
            version: str | None = (await connection.execute(query)).scalar_one_or_none()
        return version

    async def get(self, version: str) -> StoredModel | None:
        """The model with this version, active or not, or None."""
        return await self._one(select(MODELS).where(MODELS.c.version == version))

    async def activate(self, version: str) -> bool:
        """Make `version` the only active model; False, changing nothing, when it is unknown.
        Activating the active model again is a no-op that returns True."""
        async with self._engine.connect() as connection, connection.begin() as transaction:
            await _take_turn(connection)
            # Others first: the index would refuse a second active row even for a moment.
            await connection.execute(
                update(MODELS)
                .where(MODELS.c.active.is_(True), MODELS.c.version != version)
                .values(active=False)
            )
            result = await connection.execute(
                update(MODELS).where(MODELS.c.version == version).values(active=True)
            )
            if result.rowcount == 0:
                # Unknown version: the previously active model must stay active.
                await transaction.rollback()
                return False
        return True

    async def _one(self, query: Select[Any]) -> StoredModel | None:
        async with one_statement(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _model(row)


async def _take_turn(connection: AsyncConnection) -> None:
    """Serialize the transactions that change which model is active.

    PostgreSQL: a transaction-scoped advisory lock; without it two activations both see no
    other active row and the second fails on the unique index. SQLite needs nothing: its
    single writer lock is taken by the first write, which callers issue before any read (in WAL
    mode a transaction that has read cannot wait for that lock: if another writer committed
    meanwhile it fails at once with "database is locked").
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": "models:active"},
        )


# Rows <-> models: the only two places that know the column layout.


def _row(model: StoredModel, *, active: bool) -> dict[str, Any]:
    # algorithm and trained_at repeat the card's values as columns, to list models in SQL.
    try:
        algorithm = str(model.info["algorithm"])
        trained_at = datetime.fromisoformat(model.info["trained_at"])
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"model {model.version}: info needs 'algorithm' and an ISO 'trained_at' ({error!r})"
        ) from error
    return {
        "version": model.version,
        "algorithm": algorithm,
        "trained_at": trained_at,
        "info": model.info,
        "artifact": model.artifact,
        "active": active,
        "created_at": model.created_at,
    }


def _model(row: Row[Any]) -> StoredModel:
    return StoredModel(
        version=row.version,
        info=row.info,
        artifact=row.artifact,
        active=row.active,
        created_at=row.created_at,
    )
