from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from app.adapters.rate_limiter import MemoryRateLimiter, RedisRateLimiter

LIMIT = 3
MINUTE = 60
# 10.25 seconds into an aligned minute.
START = 1_700_000_000.0 - 1_700_000_000.0 % MINUTE + 10.25


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Subject:
    """A rate limiter under test and a way to let one window of `seconds` pass for it."""

    limiter: MemoryRateLimiter | RedisRateLimiter
    pass_window: Callable[[int], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: int) -> None:
            clock.now += seconds

        return Subject(MemoryRateLimiter(clock=clock), advance)

    async def sleep(seconds: int) -> None:
        await asyncio.sleep(seconds + 0.1)

    return Subject(RedisRateLimiter(request.getfixturevalue("redis_client")), sleep)


async def hits(
    limiter: MemoryRateLimiter | RedisRateLimiter,
    key: str,
    times: int,
    *,
    limit: int = LIMIT,
    window_seconds: int = MINUTE,
) -> list[int | None]:
    return [
        await limiter.hit(key, limit=limit, window_seconds=window_seconds) for _ in range(times)
    ]


async def test_limit_hits_pass_then_a_retry_after_within_the_window(subject: Subject) -> None:
    results = await hits(subject.limiter, "login:a@example.com", LIMIT + 2)

    assert results[:LIMIT] == [None] * LIMIT
    for retry_after in results[LIMIT:]:
        assert retry_after is not None
        assert 1 <= retry_after <= MINUTE


async def test_keys_are_counted_apart(subject: Subject) -> None:
    await hits(subject.limiter, "login:a@example.com", LIMIT + 1)

    assert await hits(subject.limiter, "login:b@example.com", LIMIT) == [None] * LIMIT


async def test_a_new_window_starts_a_new_count(subject: Subject) -> None:
    assert (await hits(subject.limiter, "k", 2, limit=1, window_seconds=1))[1] == 1

    await subject.pass_window(1)

    assert await hits(subject.limiter, "k", 1, limit=1, window_seconds=1) == [None]


async def test_reset_forgets_the_attempts(subject: Subject) -> None:
    await hits(subject.limiter, "k", LIMIT + 1)

    await subject.limiter.reset("k")

    assert await hits(subject.limiter, "k", LIMIT) == [None] * LIMIT


async def test_reset_of_an_unknown_key_does_nothing(subject: Subject) -> None:
    await subject.limiter.reset("never seen")


async def test_a_zero_limit_refuses_every_attempt(subject: Subject) -> None:
    assert None not in await hits(subject.limiter, "k", 2, limit=0)


async def test_concurrent_hits_are_all_counted(subject: Subject) -> None:
    results = await asyncio.gather(
        *(subject.limiter.hit("k", limit=10, window_seconds=MINUTE) for _ in range(25))
    )

    assert results.count(None) == 10


@pytest.mark.parametrize(("limit", "window_seconds"), [(-1, MINUTE), (1, 0)])
async def test_a_bad_limit_or_window_is_refused(
    subject: Subject, limit: int, window_seconds: int
) -> None:
    with pytest.raises(ValueError, match="must"):
        await subject.limiter.hit("k", limit=limit, window_seconds=window_seconds)


async def test_memory_windows_are_aligned_to_the_clock() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)

    # 10.25 s into the minute: 49.75 s are left, rounded up.
    assert await hits(limiter, "k", 2, limit=1) == [None, 50]
    clock.now += 49.5
    assert await hits(limiter, "k", 1, limit=1) == [1]
    clock.now += 0.5
    assert await hits(limiter, "k", 1, limit=1) == [None]


async def test_memory_drops_ended_windows_when_full() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock, max_keys=11)
    for number in range(10):
        await limiter.hit(f"old{number}", limit=1, window_seconds=1)
    await limiter.hit("live", limit=1, window_seconds=MINUTE)
    clock.now += 1

    await limiter.hit("new", limit=1, window_seconds=MINUTE)

    assert len(limiter) == 2
    assert await limiter.hit("live", limit=1, window_seconds=MINUTE) is not None


async def test_memory_forgets_the_oldest_live_windows_under_a_flood_of_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = MemoryRateLimiter(clock=FakeClock(), max_keys=10)
    with caplog.at_level(logging.WARNING, logger="app.adapters.rate_limiter"):
        for number in range(100):
            await limiter.hit(f"key{number}", limit=1, window_seconds=MINUTE)

    assert len(limiter) <= 10
    assert "forgot" in caplog.text
    # The newest window is kept.
    assert await limiter.hit("key99", limit=1, window_seconds=MINUTE) is not None


async def test_redis_limiters_share_their_counts(redis_url: str) -> None:
    first, second = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    try:
        replica_a, replica_b = RedisRateLimiter(first), RedisRateLimiter(second)
        await hits(replica_a, "k", LIMIT)

        assert (await hits(replica_b, "k", 1))[0] is not None
        await replica_b.reset("k")
        assert await hits(replica_a, "k", 1) == [None]
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_limiters_with_other_prefixes_count_apart(
    redis_client: aioredis.Redis,
) -> None:
    await hits(RedisRateLimiter(redis_client, prefix="a"), "k", LIMIT + 1)

    assert await hits(RedisRateLimiter(redis_client, prefix="b"), "k", LIMIT) == [None] * LIMIT


async def test_redis_counters_expire_with_their_window(redis_client: aioredis.Redis) -> None:
    await RedisRateLimiter(redis_client, prefix="p").hit("k", limit=1, window_seconds=MINUTE)

    assert 0 < await redis_client.ttl("p:k") <= MINUTE


async def test_a_redis_counter_without_ttl_gets_one(redis_client: aioredis.Redis) -> None:
    await redis_client.set("p:k", 5)

    retry_after = await RedisRateLimiter(redis_client, prefix="p").hit(
        "k", limit=1, window_seconds=MINUTE
    )

    assert retry_after == MINUTE
    assert 0 < await redis_client.ttl("p:k") <= MINUTE


async def test_redis_down_falls_back_to_counting_in_memory(
    down_client: aioredis.Redis,
) -> None:
    limiter = RedisRateLimiter(down_client)

    results = await hits(limiter, "k", LIMIT + 1)

    retry_after = results[LIMIT]
    assert results[:LIMIT] == [None] * LIMIT
    assert retry_after is not None
    assert 1 <= retry_after <= MINUTE


async def test_redis_down_reset_clears_the_fallback_count(down_client: aioredis.Redis) -> None:
    limiter = RedisRateLimiter(down_client)
    await hits(limiter, "k", LIMIT + 1)

    await limiter.reset("k")

    assert await hits(limiter, "k", LIMIT) == [None] * LIMIT


async def test_redis_down_warns_once_per_outage(
    down_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter(down_client)
    with caplog.at_level(logging.WARNING, logger="app.adapters.rate_limiter"):
        await hits(limiter, "k", LIMIT + 1)
        await limiter.reset("k")

    assert len(caplog.records) == 1
    assert "counting in process memory" in caplog.text
