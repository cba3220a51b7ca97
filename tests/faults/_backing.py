"""What the fault tests' processes run on: the fake Alpha Vantage (in this process), a fresh
database on the shared PostgreSQL and a `redis-server` of their own (to stop, or to keep
their prices off the shared Redis's channels)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.fake_alphavantage import FakeAlphaVantage
from tests.support.processes import ThrowawayRedis, throwaway_redis
from tests.support.services import postgres_database


@dataclass
class Backing:
    provider: FakeAlphaVantage
    redis: ThrowawayRedis
    # For stockql_env(**settings, ...): the database, Redis and provider above.
    settings: dict[str, str]


@asynccontextmanager
async def alphavantage_backing(directory: Path, **settings: str) -> AsyncIterator[Backing]:
    """Started services; `settings` (lower-case names) are added to theirs."""
    async with (
        FakeAlphaVantage() as provider,
        postgres_database() as database_url,
        throwaway_redis(directory) as redis,
    ):
        yield Backing(
            provider,
            redis,
            {
                "database_url": database_url,
                "redis_url": redis.url,
                "provider": "alphavantage",
                "alphavantage_api_key": provider.api_key,
                "alphavantage_base_url": provider.base_url,
            }
            | settings,
        )
