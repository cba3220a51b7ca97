"""ModelStore on SQL: versioned model cards and artifacts, at most one active."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sql.tables import ModelRow
from domain.predictions import StoredModel

MODELS: Table = ModelRow.__table__  # type: ignore[attr-defined]


class SqlModelStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, model: StoredModel, *, activate: bool) -> None:
        async with self._engine.begin() as connection:
            if activate:
                await _deactivate_all(connection)
            await connection.execute(
                insert(MODELS).values(
                    version=model.version,
                    algorithm=str(model.info.get("algorithm", "")),
                    trained_at=model.created_at,
                    info=model.info,
                    artifact=model.artifact,
                    active=activate,
                    created_at=model.created_at,
                )
            )

    async def active(self) -> StoredModel | None:
        return await self._one(select(MODELS).where(MODELS.c.active.is_(True)))

    async def get(self, version: str) -> StoredModel | None:
        return await self._one(select(MODELS).where(MODELS.c.version == version))

    async def activate(self, version: str) -> bool:
        async with self._engine.begin() as connection:
            await _deactivate_all(connection)
            exists = await connection.execute(
                select(MODELS.c.version).where(MODELS.c.version == version)
            )
            if exists.first() is None:
                await connection.rollback()
                return False
            await connection.execute(
                update(MODELS).where(MODELS.c.version == version).values(active=True)
            )
        return True

    async def _one(self, query: Any) -> StoredModel | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _model(row)


async def _deactivate_all(connection: AsyncConnection) -> None:
    """Before another row turns active (the partial unique index allows one). Activations
    take turns: PostgreSQL through a transaction-scoped advisory lock, SQLite through its
    single writer lock, which this first write takes."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('stockql:models'))"))
    await connection.execute(update(MODELS).where(MODELS.c.active.is_(True)).values(active=False))


def _model(row: Row[Any]) -> StoredModel:
    return StoredModel(
        version=row.version,
        info=row.info,
        artifact=bytes(row.artifact),
        active=row.active,
        created_at=row.created_at,
    )
