"""RedisLoginAttempts against a real Redis, and its stand-in while Redis is unreachable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.adapters.login_attempts import RedisLoginAttempts
from domain.login_throttle import AttemptRecord

EMAIL = "ada@example.com"


@pytest.fixture
async def attempts(redis_url: str) -> AsyncIterator[RedisLoginAttempts]:
    client = aioredis.from_url(redis_url)
    try:
        yield RedisLoginAttempts(client, prefix=f"test:{time.time_ns()}")
    finally:
        await client.aclose()


async def test_failures_and_failing_addresses_are_counted_per_email(
    attempts: RedisLoginAttempts,
) -> None:
    at = time.time()
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "::1"):
        await attempts.count_failure(EMAIL, address, at=at, window_seconds=60)
    record = await attempts.record(EMAIL, "10.0.0.1")
    assert record == AttemptRecord(
        failures=2, last_failure_at=at, failing_addresses=3, known_address=False
    )
    assert (await attempts.record("other@example.com", "10.0.0.1")) == AttemptRecord()


async def test_a_success_clears_the_pair_and_remembers_the_address(
    attempts: RedisLoginAttempts,
) -> None:
    await attempts.count_failure(EMAIL, "10.0.0.1", at=time.time(), window_seconds=60)
    await attempts.count_failure(EMAIL, "10.0.0.2", at=time.time(), window_seconds=60)
    await attempts.count_success(EMAIL, "10.0.0.1", remember_seconds=60)
    record = await attempts.record(EMAIL, "10.0.0.1")
    assert record == AttemptRecord(failing_addresses=1, known_address=True)


async def test_records_expire_with_their_window(attempts: RedisLoginAttempts) -> None:
    await attempts.count_failure(EMAIL, "10.0.0.1", at=time.time(), window_seconds=1)
    await asyncio.sleep(1.1)  # Redis expires keys on its own clock
    assert await attempts.record(EMAIL, "10.0.0.1") == AttemptRecord()


async def test_while_redis_is_unreachable_process_memory_counts() -> None:
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    try:
        attempts = RedisLoginAttempts(client)
        await attempts.count_failure(EMAIL, "10.0.0.1", at=1.0, window_seconds=60)
        assert (await attempts.record(EMAIL, "10.0.0.1")).failures == 1
        await attempts.count_success(EMAIL, "10.0.0.1", remember_seconds=60)
        assert (await attempts.record(EMAIL, "10.0.0.1")).known_address
    finally:
        await client.aclose()
