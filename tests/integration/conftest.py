from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.events.bus import open_event_bus
from app.adapters.events.held_prices import HeldPrices
from app.adapters.events.price_feed import MemoryPriceFeed, RedisPriceFeed
from app.adapters.sql.database import create_engine
from app.metrics import Metrics
from app.migrate import upgrade_database
from tests.support.price_feeds import MAX_LENGTH, Subject
from tests.support.server import free_port


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        return f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url`, migrated to the latest revision."""
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def down_client() -> AsyncIterator[aioredis.Redis]:
    """A client of a port nobody listens on, failing at once instead of retrying."""
    client = aioredis.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def redis_or_none(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture(params=["memory", "redis", "redis-held"])
def feed_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """Which feed, and the Redis it needs (None in memory)."""
    if request.param == "memory":
        return request.param, None
    url: str = request.getfixturevalue("redis_url")
    return request.param, url


@pytest.fixture
async def subject(feed_kind: tuple[str, str | None]) -> AsyncIterator[Subject]:
    """Each feed: in memory, on Redis, and on Redis answering the latest event of a symbol
    held here from what this process receives (app/adapters/events/held_prices.py)."""
    kind, redis_url = feed_kind
    async with open_event_bus(redis_url) as bus:
        if redis_url is None:
            yield Subject(MemoryPriceFeed(bus, max_length=MAX_LENGTH), bus)
            return
        held = HeldPrices.observing(bus) if kind == "redis-held" else None
        client = aioredis.from_url(redis_url)
        try:
            yield Subject(RedisPriceFeed(client, bus, max_length=MAX_LENGTH, held=held), bus)
        finally:
            await client.aclose()


@pytest.fixture
def symbol() -> str:
    # Channels are server-wide: a symbol of its own keeps concurrent runs apart.
    return "T" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def metrics() -> Metrics:
    """Instruments of their own for one test."""
    return Metrics()
