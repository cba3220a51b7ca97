from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from app.adapters.call_budget import DAY, MemoryCallBudget, RedisCallBudget
from domain.providers import ProviderRateLimited

# 10 seconds into a minute and into a UTC day.
START = 20_000 * DAY + 10.0


class FakeClock:
    """Time that moves only when slept through."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


BudgetFactory = Callable[..., MemoryCallBudget | RedisCallBudget]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis", "redis down"])
def make_budget(request: pytest.FixtureRequest, clock: FakeClock) -> BudgetFactory:
    """Builds budgets of one kind on the fake clock: the Redis kind on the test's database,
    or on a Redis that is down (it counts in memory then)."""
    if request.param == "memory":
        return lambda **limits: MemoryCallBudget(clock=clock, sleep=clock.sleep, **limits)
    client = request.getfixturevalue("redis_client" if request.param == "redis" else "down_client")
    return lambda **limits: RedisCallBudget(client, clock=clock, sleep=clock.sleep, **limits)


async def test_calls_within_the_minute_limit_pass(make_budget: BudgetFactory) -> None:
    budget = make_budget(per_minute=3, per_day=10)

    for _ in range(3):
        await budget.acquire()


async def test_used_up_minute_far_from_its_end_is_refused_with_the_wait(
    make_budget: BudgetFactory,
) -> None:
    budget = make_budget(per_minute=2, per_day=10)
    await budget.acquire()
    await budget.acquire()

    with pytest.raises(ProviderRateLimited) as caught:
        await budget.acquire()

    assert caught.value.daily is False
    assert caught.value.retry_after_seconds == pytest.approx(50.0)


async def test_used_up_minute_near_its_end_is_waited_for(
    make_budget: BudgetFactory, clock: FakeClock
) -> None:
    budget = make_budget(per_minute=1, per_day=10, max_wait_seconds=2.0)
    clock.now += 48.5
    await budget.acquire()

    await budget.acquire()

    assert clock.slept == [pytest.approx(1.5)]


async def test_next_minute_allows_calls_again(make_budget: BudgetFactory, clock: FakeClock) -> None:
    budget = make_budget(per_minute=1, per_day=10)
    await budget.acquire()
    clock.now += 60

    await budget.acquire()


async def test_used_up_day_is_refused_as_daily(
    make_budget: BudgetFactory, clock: FakeClock
) -> None:
    budget = make_budget(per_minute=5, per_day=2)
    await budget.acquire()
    clock.now += 60
    await budget.acquire()
    clock.now += 60

    with pytest.raises(ProviderRateLimited) as caught:
        await budget.acquire()

    assert caught.value.daily is True
    assert caught.value.retry_after_seconds == pytest.approx(DAY - 130.0)


async def test_next_day_allows_calls_again(make_budget: BudgetFactory, clock: FakeClock) -> None:
    budget = make_budget(per_minute=5, per_day=1)
    await budget.acquire()
    clock.now += DAY

    await budget.acquire()


async def test_refused_calls_are_not_counted(make_budget: BudgetFactory, clock: FakeClock) -> None:
    budget = make_budget(per_minute=1, per_day=2, max_wait_seconds=0)
    await budget.acquire()
    for _ in range(5):
        with pytest.raises(ProviderRateLimited):
            await budget.acquire()
    clock.now += 60

    await budget.acquire()  # the day still had one call left


async def test_concurrent_calls_never_exceed_the_limit(make_budget: BudgetFactory) -> None:
    budget = make_budget(per_minute=5, per_day=100, max_wait_seconds=0)

    results = await asyncio.gather(*(budget.acquire() for _ in range(20)), return_exceptions=True)

    assert results.count(None) == 5
    assert all(isinstance(r, ProviderRateLimited) for r in results if r is not None)


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryCallBudget(per_minute=0, per_day=25)


async def test_redis_budgets_share_one_count(redis_url: str, clock: FakeClock) -> None:
    first, second = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    try:
        replica_a = RedisCallBudget(first, per_minute=3, per_day=25, clock=clock)
        replica_b = RedisCallBudget(second, per_minute=3, per_day=25, clock=clock)
        await replica_a.acquire()
        await replica_b.acquire()
        await replica_a.acquire()

        with pytest.raises(ProviderRateLimited):
            await replica_b.acquire()
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_budgets_with_other_prefixes_count_apart(
    redis_client: aioredis.Redis, clock: FakeClock
) -> None:
    one = RedisCallBudget(redis_client, per_minute=1, per_day=5, clock=clock, key_prefix="a")
    other = RedisCallBudget(redis_client, per_minute=1, per_day=5, clock=clock, key_prefix="b")
    await one.acquire()

    await other.acquire()


async def test_redis_counters_expire(redis_client: aioredis.Redis, clock: FakeClock) -> None:
    budget = RedisCallBudget(
        redis_client, per_minute=5, per_day=25, clock=clock, key_prefix="budget"
    )

    await budget.acquire()

    minute_key, day_key = f"budget:minute:{int(START // 60)}", f"budget:day:{int(START // DAY)}"
    keys = await redis_client.keys("budget:*")
    assert sorted(keys) == [day_key.encode(), minute_key.encode()]
    assert 0 < await redis_client.ttl(minute_key) <= 120
    assert 86_400 < await redis_client.ttl(day_key) <= 2 * 86_400


async def test_an_unreachable_redis_is_warned_about_once_per_outage(
    down_client: aioredis.Redis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    budget = RedisCallBudget(down_client, per_minute=5, per_day=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger="app.adapters.call_budget"):
        for _ in range(3):
            await budget.acquire()

    assert len(caplog.records) == 1
    assert "counting in process memory" in caplog.text
