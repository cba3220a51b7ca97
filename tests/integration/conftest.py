from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from app.adapters.events.bus import open_event_bus
from app.adapters.events.price_feed import MemoryPriceFeed, RedisPriceFeed
from app.metrics import Metrics
from tests.support.price_feeds import MAX_LENGTH, Subject


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        return f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(params=["memory", "redis"])
def redis_or_none(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def subject(redis_or_none: str | None) -> AsyncIterator[Subject]:
    async with open_event_bus(redis_or_none) as bus:
        if redis_or_none is None:
            yield Subject(MemoryPriceFeed(bus, max_length=MAX_LENGTH), bus)
            return
        client = aioredis.from_url(redis_or_none)
        try:
            yield Subject(RedisPriceFeed(client, bus, max_length=MAX_LENGTH), bus)
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
