"""Who watches which symbol live (domain.tracked_symbols.LiveSymbols): per process in memory,
or per replica in Redis, where every replica and the worker see the union.

In Redis, `stockql:live-symbols:counts` holds one field per replica and symbol watched there
(`{replica}|{SYMBOL}` -> that replica's subscriber count at its last heartbeat) and
`stockql:live-symbols:replicas` each replica's lease (a sorted set scored by expiry, in
Redis's own milliseconds, so replicas' clocks do not matter). Each replica renews its lease
and rewrites its fields every third of the lease; the fields of a replica whose lease ran out
(it crashed, or lost Redis) are removed by the next script that looks. Only a symbol's first
subscriber and its last one in a replica talk to Redis; the others are counted in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from app.adapters.redis_outage import UNAVAILABLE, OutageLog
from domain.cancellation import raise_if_cancelled
from domain.errors import UpstreamUnavailable

log = logging.getLogger(__name__)

REPLICAS_KEY = "stockql:live-symbols:replicas"
COUNTS_KEY = "stockql:live-symbols:counts"
DEFAULT_LEASE_SECONDS = 30.0

# KEYS: replicas, counts. Shared by the scripts below: `now` is Redis's clock in ms; a field
# whose replica holds no lease past `now` is removed; `live_symbols` lists the symbols left.
_PRELUDE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function forget_dead()
  local alive = {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
    local replica = string.match(field, '^[^|]*')
    if alive[replica] == nil then
      local expires = redis.call('ZSCORE', KEYS[1], replica)
      alive[replica] = expires ~= false and tonumber(expires) > now
    end
    if not alive[replica] then redis.call('HDEL', KEYS[2], field) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
local function live_symbols()
  local seen, symbols = {}, {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
    local symbol = string.match(field, '|(.*)$')
    if not seen[symbol] then
      seen[symbol] = true
      symbols[#symbols + 1] = symbol
    end
  end
  return seen, symbols
end
"""
# ARGV: lease ms, replica, symbol, limit. 1: counted (one subscriber), 0: refused.
_JOIN = (
    _PRELUDE
    + """
forget_dead()
local seen, symbols = live_symbols()
if not seen[ARGV[3]] and #symbols >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2] .. '|' .. ARGV[3], 1)
return 1
"""
)
# ARGV: lease ms, replica, then symbol, count pairs: this replica's fields become exactly those.
_RENEW = (
    _PRELUDE
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
forget_dead()
local prefix = ARGV[2] .. '|'
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(field, 1, #prefix) == prefix then redis.call('HDEL', KEYS[2], field) end
end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], prefix .. ARGV[i], ARGV[i + 1]) end
return 1
"""
)
_SYMBOLS = (
    _PRELUDE
    + """
forget_dead()
local _, symbols = live_symbols()
return symbols
"""
)


class MemoryLiveSymbols:
    """Live subscribers per symbol in this process: the embedded default, one process."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    async def join(self, symbol: str, *, limit: int) -> bool:
        if not self._counts[symbol] and len(self._counts) >= limit:
            return False
        self._counts[symbol] += 1
        return True

    async def leave(self, symbol: str) -> None:
        self._counts[symbol] -= 1
        if self._counts[symbol] <= 0:
            del self._counts[symbol]

    async def symbols(self) -> frozenset[str]:
        return frozenset(self._counts)


class RedisLiveSymbols:
    """Live subscribers per symbol of this replica, shared through Redis (see the module).

    `lease_seconds`: how long this replica's symbols stay tracked once it stops renewing
    them (a crash). Call `renew` every third of it (`renewing` does). The client must return
    bytes; its owner closes it."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        replica: str | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, not {lease_seconds}")
        self._redis = redis
        self._lease_ms = int(lease_seconds * 1000)
        self.lease_seconds = lease_seconds
        self.replica = replica or uuid.uuid4().hex
        self._join = redis.register_script(_JOIN)
        self._renew = redis.register_script(_RENEW)
        self._symbols = redis.register_script(_SYMBOLS)
        self._counts: Counter[str] = Counter()
        # Held while a symbol's first join, its last leave or a renewal talks to Redis, so
        # they reach it in the order the counts changed here.
        self._transitions = asyncio.Lock()
        self._releases: set[asyncio.Task[None]] = set()
        self._outage = OutageLog(log, "Redis live symbols", "tracking this replica's own")

    async def join(self, symbol: str, *, limit: int) -> bool:
        if self._counts[symbol]:
            self._counts[symbol] += 1
            return True
        async with self._transitions:
            if not self._counts[symbol]:
                try:
                    admitted = await self._join(
                        keys=[REPLICAS_KEY, COUNTS_KEY],
                        args=[self._lease_ms, self.replica, symbol, limit],
                    )
                except UNAVAILABLE as error:
                    self._outage.lost("join", error)
                    raise UpstreamUnavailable(
                        "Live prices are unavailable; try again shortly"
                    ) from error
                self._outage.found()
                if not int(admitted):
                    return False
            self._counts[symbol] += 1
            return True

    async def leave(self, symbol: str) -> None:
        self._counts[symbol] -= 1
        if self._counts[symbol] > 0:
            return
        del self._counts[symbol]
        # Leaving is what a cancelled subscription does on its way out: the removal goes on
        # even when the wait for it is cancelled (else the symbol stayed tracked until the
        # next renewal).
        release = asyncio.get_running_loop().create_task(self._release(symbol))
        self._releases.add(release)
        release.add_done_callback(self._releases.discard)
        await asyncio.shield(release)

    async def _release(self, symbol: str) -> None:
        async with self._transitions:
            if self._counts[symbol]:
                return  # watched again meanwhile: the field stays
            try:
                await self._redis.hdel(COUNTS_KEY, f"{self.replica}|{symbol}")
            except UNAVAILABLE as error:
                # The next renewal rewrites this replica's fields without it.
                self._outage.lost("leave", error)

    async def symbols(self) -> frozenset[str]:
        try:
            symbols = await self._symbols(keys=[REPLICAS_KEY, COUNTS_KEY], args=[])
        except UNAVAILABLE as error:
            self._outage.lost("symbols", error)
            return frozenset(self._counts)
        self._outage.found()
        return frozenset(symbol.decode() for symbol in symbols)

    async def renew(self) -> None:
        """Extend this replica's lease and write its counts as they are now. Never raises
        for an unreachable Redis (the next renewal catches up)."""
        async with self._transitions:
            pairs = [part for symbol, count in self._counts.items() for part in (symbol, count)]
            try:
                await self._renew(
                    keys=[REPLICAS_KEY, COUNTS_KEY], args=[self._lease_ms, self.replica, *pairs]
                )
            except UNAVAILABLE as error:
                self._outage.lost("renew", error)
                return
        self._outage.found()

    async def withdraw(self) -> None:
        """Remove this replica's lease and fields (on shutdown); never raises."""
        await asyncio.gather(*self._releases, return_exceptions=True)
        try:
            fields = [f"{self.replica}|{symbol}" for symbol in self._counts]
            async with self._redis.pipeline(transaction=True) as pipeline:
                pipeline.zrem(REPLICAS_KEY, self.replica)
                if fields:
                    pipeline.hdel(COUNTS_KEY, *fields)
                await pipeline.execute()
        except UNAVAILABLE as error:
            log.info("live symbols of this replica not withdrawn (%s); they expire", error)


@asynccontextmanager
async def renewing(live: RedisLiveSymbols) -> AsyncIterator[RedisLiveSymbols]:
    """Renew `live` every third of its lease while the block runs; withdraw it on exit."""

    async def renew_forever() -> None:
        while True:
            await asyncio.sleep(live.lease_seconds / 3)
            try:
                await live.renew()
            except Exception:  # a bug must not stop the renewals for good
                log.exception("renewing the live symbols failed")
            raise_if_cancelled()

    task = asyncio.create_task(renew_forever(), name="stockql-live-symbols")
    try:
        yield live
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await live.withdraw()
