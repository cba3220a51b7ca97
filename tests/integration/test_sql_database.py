"""Engines, sessions and the health ping on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.database import create_engine, one_statement, ping
from domain.errors import DatabaseUnavailable

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/stockql"


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}")
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_ping_succeeds_on_sqlite(sqlite_engine: AsyncEngine) -> None:
    await ping(sqlite_engine)


async def test_ping_succeeds_on_postgresql(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await ping(engine)
    finally:
        await engine.dispose()


async def test_ping_raises_database_unavailable_when_postgresql_is_unreachable() -> None:
    engine = create_engine(UNREACHABLE_POSTGRES)
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            await ping(engine)
        assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    finally:
        await engine.dispose()


async def test_a_session_ended_by_the_server_raises_database_unavailable_then_is_replaced(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as doomed:
            pid = (await doomed.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DatabaseUnavailable):
                await doomed.execute(text("SELECT 1"))
        await ping(engine)
    finally:
        await engine.dispose()


async def test_a_pooled_connection_the_server_ended_is_replaced_unseen_at_checkout(
    pg_url: str,
) -> None:
    """No pre-ping (a round trip per checkout): a connection the server closed while it sat
    in the pool (a restart, an idle timeout) is replaced when it is handed out."""
    engine, admin = create_engine(pg_url), create_engine(pg_url, pooled=False)
    try:
        async with engine.connect() as first:
            pid = (await first.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.2)  # asyncpg reads the termination as it arrives
        async with engine.connect() as again:
            replaced = (await again.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert replaced != pid
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_one_statement_on_postgresql_runs_outside_a_transaction(pg_url: str) -> None:
    """No BEGIN before it nor ROLLBACK/COMMIT after it: two round trips fewer, and a write is
    kept."""
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE one_statement_kept (n int)"))
        async with one_statement(engine) as connection:
            await connection.execute(text("INSERT INTO one_statement_kept VALUES (1)"))
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            assert not raw.driver_connection.is_in_transaction()
        async with engine.connect() as connection:  # what the pool hands out next: reset
            await connection.execute(text("SELECT 1"))
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            assert raw.driver_connection.is_in_transaction()
            kept = await connection.execute(text("SELECT count(*) FROM one_statement_kept"))
            assert kept.scalar_one() == 1
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS one_statement_kept"))
        await engine.dispose()


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    sqlite_engine: AsyncEngine,
) -> None:
    async with sqlite_engine.connect() as connection:
        pragmas = {
            name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }

    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


async def test_sqlite_rolls_back_ddl_with_the_transaction(sqlite_engine: AsyncEngine) -> None:
    def table_names(connection: Connection) -> list[str]:
        return inspect(connection).get_table_names()

    async with sqlite_engine.connect() as connection:
        await connection.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
        await connection.rollback()
        assert await connection.run_sync(table_names) == []


async def test_a_statement_past_the_statement_timeout_raises_database_unavailable(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url, statement_timeout=0.2)
    try:
        async with engine.connect() as connection:
            started = asyncio.get_running_loop().time()
            with pytest.raises(DatabaseUnavailable, match="took too long"):
                await connection.execute(text("SELECT pg_sleep(5)"))
            assert asyncio.get_running_loop().time() - started < 4
        await ping(engine)  # the connection went back to the pool in working order
    finally:
        await engine.dispose()


async def test_no_pooled_connection_within_the_pool_timeout_raises_database_unavailable(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url, pool_timeout=0.2)
    held = [await engine.connect() for _ in range(20)]  # pool_size 10 + max_overflow 10
    try:
        with pytest.raises(DatabaseUnavailable, match="busy"):
            await ping(engine)
        await held.pop().close()
        await ping(engine)  # one freed up: served again
    finally:
        for connection in held:
            await connection.close()
        await engine.dispose()
