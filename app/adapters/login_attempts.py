"""Login attempt records (domain.login_throttle.LoginAttempts): process memory (the embedded
default) and Redis (shared by replicas), with memory standing in while Redis is down."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from app.adapters.redis_outage import UNAVAILABLE, OutageLog
from domain.login_throttle import AttemptRecord

log = logging.getLogger(__name__)


def _pair(email: str, address: str) -> str:
    # The length keeps "a:b" + "c" and "a" + "b:c" apart (IPv6 addresses hold colons).
    return f"{len(email)}:{email}:{address}"


class MemoryLoginAttempts:
    """One process's view: attempts counted on another replica are not seen. At most
    `max_entries` pairs, failing-address sets and known-address sets each are kept; past
    that, expired entries are dropped, then the oldest (a flood of distinct keys)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, max_entries: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_entries = max_entries
        # pair -> (failures, last failure at, forgotten at)
        self._pairs: dict[str, tuple[int, float, float]] = {}
        # email -> {address: forgotten at}
        self._failing: dict[str, dict[str, float]] = {}
        self._known: dict[str, dict[str, float]] = {}

    async def record(self, email: str, address: str) -> AttemptRecord:
        now = self._clock()
        failures, last_at = 0, None
        pair = self._pairs.get(_pair(email, address))
        if pair is not None and pair[2] > now:
            failures, last_at = pair[0], pair[1]
        failing = self._failing.get(email, {})
        return AttemptRecord(
            failures=failures,
            last_failure_at=last_at,
            failing_addresses=sum(1 for until in failing.values() if until > now),
            known_address=self._known.get(email, {}).get(address, 0.0) > now,
        )

    async def count_failure(
        self, email: str, address: str, *, at: float, window_seconds: int
    ) -> None:
        now = self._clock()
        key = _pair(email, address)
        pair = self._pairs.pop(key, None)
        failures = pair[0] if pair is not None and pair[2] > now else 0
        self._pairs[key] = (failures + 1, at, now + window_seconds)
        self._add(self._failing, email, address, now + window_seconds)
        self._bound()

    async def count_success(self, email: str, address: str, *, remember_seconds: int) -> None:
        self._pairs.pop(_pair(email, address), None)
        self._failing.get(email, {}).pop(address, None)
        self._add(self._known, email, address, self._clock() + remember_seconds)
        self._bound()

    def _add(
        self, sets: dict[str, dict[str, float]], email: str, address: str, until: float
    ) -> None:
        members = sets.pop(email, {})
        members.pop(address, None)
        members[address] = until
        sets[email] = members  # re-inserted: the most recently used last

    def _bound(self) -> None:
        now = self._clock()
        for entries in (self._pairs, self._failing, self._known):
            if len(entries) <= self._max_entries:
                continue
            for key in [key for key, value in entries.items() if _expired(value, now)]:
                del entries[key]
            excess = len(entries) - self._max_entries
            if excess > 0:
                for key in list(entries)[:excess]:
                    del entries[key]
                log.warning("Login attempt memory full: forgot %d entries", excess)


def _expired(value: tuple[int, float, float] | dict[str, float], now: float) -> bool:
    if isinstance(value, tuple):
        return value[2] <= now
    return all(until <= now for until in value.values())


# KEYS: pair hash, the email's failing-address set. ARGV: address, at, window seconds.
_FAILURE_SCRIPT = """
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""


class RedisLoginAttempts:
    """In Redis: a hash per email and address (failures, last failure), and per email a set
    of the addresses that failed (expiring with the window) and one of the addresses that
    signed in (expiring `remember_seconds` after the last success). While Redis is
    unreachable a MemoryLoginAttempts of this process stands in (one warning per outage),
    so logins are throttled per replica rather than not at all."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "stockql:login") -> None:
        self._client = client
        self._failure = client.register_script(_FAILURE_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryLoginAttempts()
        self._outage = OutageLog(log, "Redis login attempts", "counting in process memory")

    async def record(self, email: str, address: str) -> AttemptRecord:
        pipeline = self._client.pipeline(transaction=False)
        pipeline.hmget(self._key("pair", _pair(email, address)), "failures", "at")
        pipeline.scard(self._key("failing", email))
        pipeline.sismember(self._key("known", email), address)
        try:
            (failures, at), failing, known = await pipeline.execute()
        except UNAVAILABLE as error:
            self._outage.lost("record", error)
            return await self._fallback.record(email, address)
        self._outage.found()
        return AttemptRecord(
            failures=int(failures or 0),
            last_failure_at=float(at) if at is not None else None,
            failing_addresses=int(failing),
            known_address=bool(known),
        )

    async def count_failure(
        self, email: str, address: str, *, at: float, window_seconds: int
    ) -> None:
        keys = [self._key("pair", _pair(email, address)), self._key("failing", email)]
        try:
            await self._failure(keys=keys, args=[address, repr(at), window_seconds])
        except UNAVAILABLE as error:
            self._outage.lost("count_failure", error)
            await self._fallback.count_failure(email, address, at=at, window_seconds=window_seconds)
            return
        self._outage.found()

    async def count_success(self, email: str, address: str, *, remember_seconds: int) -> None:
        await self._fallback.count_success(email, address, remember_seconds=remember_seconds)
        known = self._key("known", email)
        pipeline = self._client.pipeline(transaction=True)
        pipeline.unlink(self._key("pair", _pair(email, address)))
        pipeline.srem(self._key("failing", email), address)
        pipeline.sadd(known, address)
        pipeline.expire(known, remember_seconds)
        try:
            await pipeline.execute()
        except UNAVAILABLE as error:
            self._outage.lost("count_success", error)
            return
        self._outage.found()

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:{kind}:{name}"
