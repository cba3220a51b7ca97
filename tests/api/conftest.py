from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.support.fake_alphavantage import FakeAlphaVantage
from tests.support.server import RunningServer, running_server

TEST_JWT_SECRET = "test-secret-of-at-least-thirty-two-bytes-0123456789"


def api_settings(**overrides: object) -> Settings:
    """Settings for a test server: no in-process jobs, migrations on start, cheap hashing."""
    values: dict[str, object] = {
        "env": "test",
        "migrate_on_start": True,
        "worker_in_process": False,
        "symbols": ("AAPL", "MSFT"),
        "jwt_secret": TEST_JWT_SECRET,
        "password_time_cost": 1,
        "password_memory_kib": 1024,
    }
    values.update(overrides)
    return Settings.model_validate(values)


# Generous limits: fuzzed requests should reach the resolvers, not stop at the rate limiter.
UNLIMITED = 1_000_000
NO_RATE_LIMITS = {
    "login_free_failures": UNLIMITED,
    "login_addresses_per_email": UNLIMITED,
    "login_limit_per_address": UNLIMITED,
    "register_limit_per_email": UNLIMITED,
    "register_limit_per_address": UNLIMITED,
    "predict_limit_per_address": UNLIMITED,
}


def fuzz_settings(**overrides: object) -> Settings:
    """`api_settings` with no rate limit in the way of a fuzzer."""
    return api_settings(**{**NO_RATE_LIMITS, **overrides})


def alpha_vantage_settings(
    fake: FakeAlphaVantage, *, database_url: str, redis_url: str, **overrides: object
) -> Settings:
    """A test server on the fake Alpha Vantage, with a budget and no retries that never
    get in a test's way."""
    return api_settings(
        database_url=database_url,
        redis_url=redis_url,
        provider="alphavantage",
        alphavantage_api_key=fake.api_key,
        alphavantage_base_url=fake.base_url,
        alphavantage_calls_per_minute=1000,
        alphavantage_calls_per_day=10_000,
        alphavantage_max_retries=0,
        **overrides,
    )


@pytest.fixture
async def server(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    """The app on real PostgreSQL and Redis with the simulator as provider."""
    async with running_server(api_settings(database_url=pg_url, redis_url=redis_url)) as running:
        yield running


@pytest.fixture
async def sqlite_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """The app on the embedded defaults: SQLite, in-process cache, simulator."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}"
    async with running_server(api_settings(database_url=url)) as running:
        yield running
