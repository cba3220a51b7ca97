"""Following the active model through a Redis outage: replicas in this process on a fresh
PostgreSQL database and a `redis-server` of the test's own, stopped and started again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.active_model import NEVER, announcements_reach, answers_with, replicas
from tests.support.models import small_model
from tests.support.processes import ThrowawayRedis, throwaway_redis
from tests.support.services import postgres_database
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(300)

CHECK_SECONDS = "0.5"
WITHIN = 10.0


@pytest.fixture
async def backing(tmp_path: Path) -> AsyncIterator[tuple[str, ThrowawayRedis]]:
    async with postgres_database() as database_url, throwaway_redis(tmp_path) as redis:
        yield database_url, redis


async def test_a_model_activated_while_redis_is_down_reaches_the_other_replica(
    backing: tuple[str, ThrowawayRedis],
) -> None:
    database_url, redis = backing
    async with replicas(
        2, database_url=database_url, redis_url=redis.url, model_check_seconds=CHECK_SECONDS
    ) as (first, second):
        await redis.stop()
        model = small_model(5)
        # The announcement fails (logged); the activation stands.
        await first.app.state.runtime.services.models.save_model(model)
        await eventually(lambda: answers_with(second, model), within=WITHIN)
        assert await answers_with(first, model)
        await redis.start()


async def test_announcements_reach_every_replica_again_after_a_redis_restart(
    backing: tuple[str, ThrowawayRedis],
) -> None:
    database_url, redis = backing
    async with replicas(
        2, database_url=database_url, redis_url=redis.url, model_check_seconds=NEVER
    ) as (first, second):
        await eventually(lambda: announcements_reach(redis.url, 2), within=WITHIN)
        await redis.stop()
        await redis.start()
        # Each replica's event bus subscribes its channels again by itself.
        await eventually(lambda: announcements_reach(redis.url, 2), within=WITHIN)
        model = small_model(6)
        await first.app.state.runtime.services.models.save_model(model)
        await eventually(lambda: answers_with(second, model), within=WITHIN)
