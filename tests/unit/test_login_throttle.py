"""The login throttle's policy on a fake clock: back-off per email and address, distinct
addresses per email, and known addresses never locked out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.adapters.login_attempts import MemoryLoginAttempts
from domain.errors import RateLimited
from domain.login_throttle import LoginPolicy, LoginThrottle

EMAIL = "ada@example.com"
ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(clock: Clock, **policy: float) -> LoginThrottle:
    attempts = MemoryLoginAttempts(clock=clock.epoch)
    return LoginThrottle(attempts, LoginPolicy(**policy), clock=clock)  # type: ignore[arg-type]


async def wait_of(throttle: LoginThrottle, address: str) -> int | None:
    try:
        await throttle.check(EMAIL, address)
    except RateLimited as refused:
        return refused.retry_after_seconds
    return None


def test_the_wait_doubles_after_the_free_failures_up_to_the_maximum() -> None:
    policy = LoginPolicy(free_failures=3, backoff_base_seconds=2, backoff_max_seconds=60)
    waits = [policy.backoff_seconds(failures) for failures in range(1, 10)]
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 60]
    assert policy.backoff_seconds(10**6) == 60


async def test_an_address_waits_longer_after_each_failure_past_the_free_ones(clock: Clock) -> None:
    subject = throttle(clock, free_failures=2, backoff_base_seconds=2)
    for _ in range(2):
        assert await wait_of(subject, ATTACKER) is None
        await subject.failed(EMAIL, ATTACKER)
    assert await wait_of(subject, ATTACKER) is None
    await subject.failed(EMAIL, ATTACKER)  # the third: 2 s
    assert await wait_of(subject, ATTACKER) == 2
    clock.advance(2)
    assert await wait_of(subject, ATTACKER) is None
    await subject.failed(EMAIL, ATTACKER)  # the fourth: 4 s
    assert await wait_of(subject, ATTACKER) == 4


async def test_one_addresss_failures_do_not_slow_another_address(clock: Clock) -> None:
    subject = throttle(clock, free_failures=2)
    for _ in range(10):
        await subject.failed(EMAIL, ATTACKER)
    assert await wait_of(subject, ATTACKER) is not None
    assert await wait_of(subject, OWNER) is None


async def test_a_success_clears_the_addresss_failures(clock: Clock) -> None:
    subject = throttle(clock, free_failures=1)
    await subject.failed(EMAIL, OWNER)
    await subject.failed(EMAIL, OWNER)
    clock.advance(10)
    await subject.succeeded(EMAIL, OWNER)
    await subject.failed(EMAIL, OWNER)
    assert await wait_of(subject, OWNER) is None  # the first failure again: free


async def test_failures_are_forgotten_a_window_after_the_last_one(clock: Clock) -> None:
    subject = throttle(clock, free_failures=1, window_seconds=600, backoff_base_seconds=1)
    for _ in range(5):
        await subject.failed(EMAIL, ATTACKER)
    clock.advance(599)
    assert await wait_of(subject, ATTACKER) is None  # the 8 s wait has passed
    await subject.failed(EMAIL, ATTACKER)  # the sixth: 16 s
    assert await wait_of(subject, ATTACKER) == 16
    clock.advance(601)
    await subject.failed(EMAIL, ATTACKER)  # counted afresh: the first, free
    assert await wait_of(subject, ATTACKER) is None


async def test_too_many_failing_addresses_refuse_new_addresses_but_not_known_ones(
    clock: Clock,
) -> None:
    subject = throttle(clock, addresses_per_email=3, window_seconds=900)
    await subject.succeeded(EMAIL, OWNER)
    for bot in range(3):
        await subject.failed(EMAIL, f"10.0.0.{bot}")
    assert await wait_of(subject, "10.0.9.9") == 900
    assert await wait_of(subject, OWNER) is None
    clock.advance(901)
    assert await wait_of(subject, "10.0.9.9") is None


async def test_a_known_address_is_forgotten_after_the_remembered_days(clock: Clock) -> None:
    subject = throttle(clock, addresses_per_email=1, remember_address_days=1)
    await subject.succeeded(EMAIL, OWNER)
    clock.advance(86_401)
    await subject.failed(EMAIL, ATTACKER)
    assert await wait_of(subject, OWNER) is not None


async def test_memory_keeps_at_most_its_entries(clock: Clock) -> None:
    attempts = MemoryLoginAttempts(clock=clock.epoch, max_entries=10)
    for number in range(50):
        await attempts.count_failure(
            f"user{number}@example.com", ATTACKER, at=clock.epoch(), window_seconds=60
        )
    newest = await attempts.record("user49@example.com", ATTACKER)
    assert newest.failures == 1
    oldest = await attempts.record("user0@example.com", ATTACKER)
    assert oldest.failures == 0
