"""Async engines for SQLite (the embedded default) and PostgreSQL, sessions, and a health ping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from app.adapters.sql.outage import OutageReportingPool, report_outages

# How long a SQLite writer waits for another writer's lock before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
# How long opening a PostgreSQL connection may take before the database counts as unavailable.
CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_POOL_TIMEOUT_SECONDS = 10.0


def create_engine(
    url: str,
    *,
    pooled: bool = True,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS,
    statement_timeout: float | None = None,
) -> AsyncEngine:
    """Create the engine for `url` (`sqlite+aiosqlite://...` or `postgresql+asyncpg://...`).

    `pooled=False` opens a fresh connection per checkout: for one-shot users such as migrations.
    On PostgreSQL, a checkout waits at most `pool_timeout` seconds for a pooled connection and
    a statement runs at most `statement_timeout` seconds (None: no limit); either failing is
    DatabaseUnavailable. The caller owns the engine and must `await engine.dispose()` it.

    Statement errors never carry their parameters (`hide_parameters`): they hold users'
    emails, names and password hashes, and such errors are logged.
    """
    options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_async_engine(url, hide_parameters=True, **options)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
        return engine
    if pooled:
        # Per process: 10 connections kept, 10 more in bursts. Recycling outlives proxies
        # that drop idle ones. No pre-ping: its `SELECT 1` was one more round trip per
        # checkout, which under load waits behind every other request (the mixed load test
        # served 612 requests/s with it, 727 without); connections the server closed
        # (a restart, an idle timeout) are replaced at checkout instead (_replace_closed).
        options |= {
            "poolclass": OutageReportingPool,
            "pool_size": 10,
            "max_overflow": 10,
            "pool_timeout": pool_timeout,
            "pool_recycle": 1800,
        }
    server_settings = {"application_name": "stockql"}
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(max(1, round(statement_timeout * 1000)))
    engine = create_async_engine(
        url,
        hide_parameters=True,
        connect_args={
            "server_settings": server_settings,
            # asyncpg waits 60 s by default for a server that does not answer.
            "timeout": CONNECT_TIMEOUT_SECONDS,
        },
        **options,
    )
    report_outages(engine)
    if pooled:
        event.listen(engine.sync_engine, "checkout", _replace_closed)
    return engine


@asynccontextmanager
async def one_statement(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for one statement, a read or a write (committed when the block ends).
    On PostgreSQL it runs outside a transaction (AUTOCOMMIT): one statement is atomic and
    sees one snapshot by itself, and asyncpg would otherwise send BEGIN before it and
    ROLLBACK or COMMIT after it, two more round trips that under load each wait behind every
    other request. Never for more than one statement that must agree or apply together."""
    if engine.dialect.name != "postgresql":
        async with engine.begin() as connection:
            yield connection
        return
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


async def ping(engine: AsyncEngine) -> None:
    """Run `SELECT 1`; raises when the database cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _replace_closed(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Hand out no connection the server ended: asyncpg knows, without a round trip, once the
    server closed it (it reads the termination or the socket's end as they arrive). Raising
    DisconnectionError makes the pool connect anew (up to three times) for this checkout. A
    connection dropped silently (no FIN: a network cut) is found only by its first statement,
    which then fails as DatabaseUnavailable and the pool is refreshed."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # The driver's own transaction handling starts transactions lazily and never around DDL;
    # turning it off lets _begin_sqlite emit BEGIN, so every transaction (migrations too) is atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers work while one writer commits; NORMAL sync is safe with WAL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
