from __future__ import annotations

import os
from collections.abc import AsyncIterator

import hypothesis.core
import pytest
from hypothesis.vendor import pretty
from schemathesis.generation.hypothesis import setup as patch_hypothesis_for_schemathesis

from tests.support.fake_alphavantage import FakeAlphaVantage
from tests.support.services import (
    REDIS_HOST,
    postgres_database,
    reachable,
    redis_database,
    redis_port,
)
from tests.support.worker_redis import (
    WorkerRedis,
    parallel_workers,
    redis_server_binary,
    start_worker_redis,
    stop_worker_redis,
)

WORKER_REDIS = pytest.StashKey[WorkerRedis]()

# schemathesis patches Hypothesis once, on first use (its pytest plugin uses it at start-up),
# and swaps the printer of falsifying examples for one that prints nothing: every Hypothesis
# test of the suite would report `Failing test case: test(x=,)`. Let it patch now, then put
# Hypothesis' own printer back (tests/api/test_schemathesis_api.py checks the report).
patch_hypothesis_for_schemathesis()
hypothesis.core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject's addopts): see tests/support/worker_redis.py."""
    return parallel_workers(shared_redis_answers=reachable(REDIS_HOST, redis_port()))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") and redis_server_binary() is not None:
        config.stash[WORKER_REDIS] = start_worker_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(WORKER_REDIS, None)
    if server is not None:
        stop_worker_redis(server)


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
