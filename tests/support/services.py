"""Throwaway PostgreSQL databases and Redis databases for tests.

Tests that need a service skip when it is not reachable, unless STOCKQL_REQUIRE_SERVICES=1
(as in CI), where they fail instead so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
import redis.asyncio as aioredis

PG_HOST = os.environ.get("STOCKQL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("STOCKQL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("STOCKQL_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("STOCKQL_TEST_REDIS_HOST", "127.0.0.1")


def redis_port() -> int:
    """Read when used: a pytest-xdist worker points it at its own server at start-up."""
    return int(os.environ.get("STOCKQL_TEST_REDIS_PORT", "6379"))


def services_required() -> bool:
    return os.environ.get("STOCKQL_REQUIRE_SERVICES") == "1"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def missing(message: str) -> NoReturn:
    """Skip the test for a missing service; fail it when STOCKQL_REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(message + " and STOCKQL_REQUIRE_SERVICES=1")
    pytest.skip(message)


def require(service: str, host: str, port: int) -> None:
    if not reachable(host, port):
        missing(f"{service} is not reachable at {host}:{port}")


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """Create an empty database; yield its SQLAlchemy asyncpg URL; drop it afterwards."""
    require("PostgreSQL", PG_HOST, PG_PORT)
    name = f"stockql_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def redis_database(db: int = 9) -> AsyncIterator[str]:
    """Yield the URL of an emptied Redis logical database; empty it again afterwards."""
    port = redis_port()
    require("Redis", REDIS_HOST, port)
    url = f"redis://{REDIS_HOST}:{port}/{db}"
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
        yield url
        await client.flushdb()
    finally:
        await client.aclose()


@asynccontextmanager
async def service_settings(kind: str, directory: Path) -> AsyncIterator[dict[str, str]]:
    """Settings of the services for `kind`: "redis" is a throwaway PostgreSQL database and
    Redis; "embedded" an SQLite file in `directory` and no Redis (in-process everything)."""
    if kind == "embedded":
        yield {"database_url": f"sqlite+aiosqlite:///{directory / 'stockql.db'}"}
        return
    async with postgres_database() as database_url, redis_database() as redis_url:
        yield {"database_url": database_url, "redis_url": redis_url}
