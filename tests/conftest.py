from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_alphavantage import FakeAlphaVantage
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


@pytest.fixture
async def fake_alphavantage() -> AsyncIterator[FakeAlphaVantage]:
    """A running fake Alpha Vantage server (see tests/support/fake_alphavantage.py).

    Point a client at `fake_alphavantage.base_url` with `fake_alphavantage.api_key`.
    """
    async with FakeAlphaVantage() as fake:
        yield fake
