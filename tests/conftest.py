from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.services import postgres_database, redis_database


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """An emptied Redis database for one test."""
    async with redis_database() as url:
        yield url
