"""Rate limiter adapters: process memory (the embedded default) and Redis (shared by replicas).

Both count attempts per key in fixed windows (see domain.rate_limits.RateLimiter). In memory
the windows are aligned to multiples of `window_seconds` on the clock; in Redis a window starts
with the first attempt of a key and lasts `window_seconds` (the key's TTL).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from app.adapters.redis_outage import UNAVAILABLE, OutageLog

log = logging.getLogger(__name__)


def _check(limit: int, window_seconds: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must not be negative, not {limit}")
    if window_seconds < 1:
        raise ValueError(f"window_seconds must be at least 1, not {window_seconds}")


class MemoryRateLimiter:
    """Counts in process memory: one process's view only, so limits are per replica.

    `clock` gives seconds (epoch or any other steady origin). At most `max_keys` keys are
    remembered: when a new key would pass that, keys whose window has ended are dropped, and
    if that is not enough (a flood of distinct keys within one window) the oldest windows are
    forgotten too, down to 90% of `max_keys` so that the sweep runs once per many new keys.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, not {max_keys}")
        self._clock = clock
        self._max_keys = max_keys
        self._low_water = max_keys - max(1, max_keys // 10)
        # key -> (end of its window on the clock, attempts in it). Insertion order is the
        # order windows started in, as a new window re-inserts its key.
        self._windows: dict[str, tuple[float, int]] = {}

    def __len__(self) -> int:
        """How many keys hold a window (ended ones included until swept)."""
        return len(self._windows)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int | None:
        """See RateLimiter.hit. Raises ValueError for a negative limit or a window under 1 s."""
        _check(limit, window_seconds)
        # No await in here: counting cannot interleave with another task.
        now = self._clock()
        window_end = (math.floor(now / window_seconds) + 1) * window_seconds
        current = self._windows.get(key)
        if current is not None and current[0] == window_end:
            count = current[1] + 1
            self._windows[key] = (window_end, count)
        else:
            if current is None and len(self._windows) >= self._max_keys:
                self._make_room(now)
            self._windows.pop(key, None)
            count = 1
            self._windows[key] = (window_end, count)
        if count <= limit:
            return None
        # Aligned windows end within (0, window_seconds] from now.
        return max(1, math.ceil(window_end - now))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _make_room(self, now: float) -> None:
        for key in [key for key, (end, _) in self._windows.items() if end <= now]:
            del self._windows[key]
        if len(self._windows) > self._low_water:
            # Forgetting a live window lets that key start over: only under a flood of keys.
            excess = len(self._windows) - self._low_water
            for key in list(self._windows)[:excess]:
                del self._windows[key]
            log.warning("Rate limiter memory full: forgot %d live windows", excess)


# KEYS: the counter. ARGV: the window in seconds. Returns {attempts, milliseconds left}.
# INCR creates a missing key without a TTL; the TTL is set then (and repaired should a key
# ever lack one), so a window never outlives window_seconds and a counter never stays forever.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1]) * 1000
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Counts in Redis, so every replica sharing the Redis and `prefix` shares the limits.

    Each hit is one atomic script call. While Redis is unreachable, attempts are counted in a
    MemoryRateLimiter of this process instead (one warning per outage): limits then hold per
    replica rather than not at all, and no request fails because of Redis. How long an
    unreachable Redis makes each call wait is the client's configuration (see RedisCache).
    The client's owner closes it.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = "stockql:ratelimit") -> None:
        self._client = client
        self._script = client.register_script(_HIT_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryRateLimiter()
        # Every login attempt hits the limiter: the start of an outage is logged, not each call.
        self._outage = OutageLog(log, "Redis rate limiter", "counting in process memory")

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int | None:
        """See RateLimiter.hit. Raises ValueError for a negative limit or a window under 1 s."""
        _check(limit, window_seconds)
        try:
            count, ttl_ms = await self._script(keys=[self._key(key)], args=[window_seconds])
        except UNAVAILABLE as error:
            self._outage.lost("hit", error)
            return await self._fallback.hit(key, limit=limit, window_seconds=window_seconds)
        self._outage.found()
        if int(count) <= limit:
            return None
        return max(1, math.ceil(int(ttl_ms) / 1000))

    async def reset(self, key: str) -> None:
        """Forget `key` in Redis and in the fallback; never raises for an unreachable Redis."""
        # Clearing both keeps counts from an earlier outage from resurfacing in the next one.
        await self._fallback.reset(key)
        try:
            await self._client.unlink(self._key(key))
        except UNAVAILABLE as error:
            self._outage.lost("reset", error)
            return
        self._outage.found()

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"
