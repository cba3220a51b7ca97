"""Alembic environment: an async engine on SQLite or PostgreSQL, URL from the config or Settings."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import app.adapters.sql.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from app.adapters.sql.database import create_engine
from app.settings import Settings

config = context.config
target_metadata = SQLModel.metadata

# Only the alembic command line sets cmd_opts; an application migrating programmatically keeps
# its own logging configuration.
if config.cmd_opts is not None and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    # Render project and SQLModel column types (UtcDateTime, AutoString) as the plain SQLAlchemy
    # type they store as, so revisions never import application code that may change later.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if type(impl).__module__.startswith("sqlalchemy.sql"):
            return f"sa.{impl!r}"
    return False


def configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        # SQLite has transactional DDL too (Alembic assumes not): with it, an upgrade that
        # fails part-way leaves the database at the previous revision.
        transactional_ddl=True,
        **options,
    )


def run_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    url = database_url()
    configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite alters tables by rebuilding them (batch mode). The engine emits BEGIN itself
    # (app.adapters.sql.database), so SQLite's DDL really runs inside the transaction.
    configure(connection=connection, render_as_batch=sqlite)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if violations:
                raise RuntimeError(f"foreign key violations after migrating: {violations}")


async def run_online() -> None:
    engine = create_engine(database_url(), pooled=False)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch mode drops and recreates tables, which fails or cascades on tables that
                # others reference while foreign keys are on. The pragma is ignored inside a
                # transaction, so it is set on the driver connection before SQLAlchemy begins one;
                # the connection is not pooled, so the setting ends with it.
                driver = (await connection.get_raw_connection()).driver_connection
                assert driver is not None
                await driver.execute("PRAGMA foreign_keys=OFF")
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    # The CLI and app.migrate (called via asyncio.to_thread from async code) run this in a
    # thread with no running event loop.
    asyncio.run(run_online())
