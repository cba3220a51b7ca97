"""How many upstream calls we may still make: per clock minute and per UTC day.

Alpha Vantage counts calls per key, so every process using the key must draw from one budget:
RedisCallBudget keeps the counters in Redis for that; MemoryCallBudget serves one process.
Windows are fixed (minute and day numbers since the epoch), which keeps the Redis side to two
counters and one atomic script. A refused call is never counted. A refusal means what Alpha
Vantage's own limit answers mean, with the same waits (to the next clock minute, to the next
00:00 UTC), so a client hears the same from both (domain.providers.unavailable_error).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import redis.asyncio as aioredis

from app.adapters.redis_outage import UNAVAILABLE, OutageLog
from domain.providers import ProviderRateLimited

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MINUTE = 60.0
DAY = 86_400.0

# Which window refused a call; None when the call was counted.
Refusal = Literal["minute", "day"] | None


class CallBudget(Protocol):
    """Permission to make one upstream call."""

    async def acquire(self) -> None:
        """Count one call, waiting briefly if the minute window is about to end.

        Raises ProviderRateLimited (daily=True when the day is used up) instead of counting.
        """
        ...


class _WindowedBudget(abc.ABC):
    """The waiting and refusing shared by both budgets; subclasses count atomically.

    `per_minute` and `per_day` are call limits; a used-up minute is waited for when it ends
    within `max_wait_seconds`. `clock` gives epoch seconds and `sleep` waits (both for tests).
    """

    def __init__(
        self,
        *,
        per_minute: int,
        per_day: int,
        max_wait_seconds: float = 2.0,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute < 1 or per_day < 1:
            raise ValueError("per_minute and per_day must be at least 1")
        self._per_minute = per_minute
        self._per_day = per_day
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep

    async def acquire(self) -> None:
        """Count one call, or wait for the next minute when it starts within max_wait_seconds.

        Raises ProviderRateLimited(daily=True) when the day's calls are used up and
        ProviderRateLimited(daily=False, retry_after_seconds=...) when the minute's are and
        the wait would be longer than max_wait_seconds.
        """
        while True:
            now = self._clock()
            minute, day = math.floor(now / MINUTE), math.floor(now / DAY)
            refusal = await self._take(minute, day)
            if refusal is None:
                return
            if refusal == "day":
                raise ProviderRateLimited(
                    f"call budget: {self._per_day} calls per day used up",
                    daily=True,
                    retry_after_seconds=(day + 1) * DAY - now,
                )
            wait = (minute + 1) * MINUTE - now
            if wait > self._max_wait:
                raise ProviderRateLimited(
                    f"call budget: {self._per_minute} calls per minute used up",
                    daily=False,
                    retry_after_seconds=wait,
                )
            await self._sleep(wait)

    @abc.abstractmethod
    async def _take(self, minute: int, day: int) -> Refusal:
        """Count a call in both windows and return None, or return the refusing window."""


class MemoryCallBudget(_WindowedBudget):
    """A budget for one process. Safe for concurrent tasks on one event loop."""

    # The current windows and their counts; each instance shadows them from its first call on.
    _minute, _minute_calls = -1, 0
    _day, _day_calls = -1, 0

    async def _take(self, minute: int, day: int) -> Refusal:
        # No await in here: check and count cannot interleave with another task.
        if minute != self._minute:
            self._minute, self._minute_calls = minute, 0
        if day != self._day:
            self._day, self._day_calls = day, 0
        if self._day_calls >= self._per_day:
            return "day"
        if self._minute_calls >= self._per_minute:
            return "minute"
        self._minute_calls += 1
        self._day_calls += 1
        return None


# KEYS: minute counter, day counter. ARGV: per-minute limit, per-day limit, their expiries.
# Returns 0 (counted), 1 (minute used up) or 2 (day used up); refusals change nothing.
_TAKE_SCRIPT = """
local minute_calls = tonumber(redis.call('GET', KEYS[1]) or '0')
local day_calls = tonumber(redis.call('GET', KEYS[2]) or '0')
if day_calls >= tonumber(ARGV[2]) then return 2 end
if minute_calls >= tonumber(ARGV[1]) then return 1 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 0
"""
# Counters outlive their window a little so a replica with a slightly slow clock still sees them.
_MINUTE_TTL_SECONDS = 120
_DAY_TTL_SECONDS = 2 * 86_400
_REFUSALS: dict[int, Refusal] = {0: None, 1: "minute", 2: "day"}


class RedisCallBudget(_WindowedBudget):
    """A budget shared by every process using the same Redis and key prefix.

    While Redis is unreachable, calls are counted in a MemoryCallBudget of this process with
    the same limits: each replica may then spend the whole budget (the provider's own limit
    answers stop the excess), but quotes and history keep coming instead of failing. The
    Redis client is owned by the caller. Window numbers come from `clock`, so replicas need
    roughly synchronised clocks (NTP is plenty: windows are a minute long).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        per_minute: int,
        per_day: int,
        key_prefix: str = "stockql:alphavantage:budget",
        max_wait_seconds: float = 2.0,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(
            per_minute=per_minute,
            per_day=per_day,
            max_wait_seconds=max_wait_seconds,
            clock=clock,
            sleep=sleep,
        )
        self._script = redis.register_script(_TAKE_SCRIPT)
        self._prefix = key_prefix
        self._fallback = MemoryCallBudget(per_minute=per_minute, per_day=per_day)
        self._outage = OutageLog(log, "Redis call budget", "counting in process memory")

    async def _take(self, minute: int, day: int) -> Refusal:
        try:
            result = await self._script(
                keys=[f"{self._prefix}:minute:{minute}", f"{self._prefix}:day:{day}"],
                args=[self._per_minute, self._per_day, _MINUTE_TTL_SECONDS, _DAY_TTL_SECONDS],
            )
        except UNAVAILABLE as error:
            self._outage.lost("take", error)
            return await self._fallback._take(minute, day)
        self._outage.found()
        return _REFUSALS[int(result)]
