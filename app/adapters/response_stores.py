"""Where whole GraphQL responses are kept: in Redis (shared by every replica) or in memory.

An entry lives for its policy's max age at most and is dropped at once when a price event
arrives for a symbol it read. A response computed while such an event arrived is not stored:
each symbol has a generation, raised by every invalidation; `put` stores only when the
generations read before the response was computed are still current, so a result built from
the old price never outlives the event that replaced it.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Generations = Mapping[str, int]
# The generation every entry is checked against, raised by clearing every symbol.
EVERY_SYMBOL = ""


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    # Seconds the entry has left (what a hit's Cache-Control max-age says).
    max_age: int


class ResponseStore(Protocol):
    async def get(self, key: str) -> CachedResponse | None: ...

    async def generations(self, symbols: Iterable[str]) -> Generations: ...

    async def put(self, key: str, body: bytes, *, max_age: int, symbols: Generations) -> bool:
        """Store unless a symbol's generation moved on since `symbols` was read."""
        ...

    async def invalidate(self, symbol: str | None) -> None:
        """Drop the entries that read `symbol`; every entry when None (clearCache of all)."""
        ...


class MemoryResponseStore:
    """One process's entries, least recently used evicted past `max_bytes` in all."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_entry_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_bytes = max_bytes
        self._max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float, frozenset[str]]] = OrderedDict()
        self._by_symbol: dict[str, set[str]] = {}
        self._generation: dict[str, int] = {}
        self._bytes = 0

    async def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        body, expires_at, _ = entry
        left = expires_at - self._clock()
        if left <= 0:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return CachedResponse(body, math.ceil(left))

    async def generations(self, symbols: Iterable[str]) -> Generations:
        return {symbol: self._generation.get(symbol, 0) for symbol in (EVERY_SYMBOL, *symbols)}

    async def put(self, key: str, body: bytes, *, max_age: int, symbols: Generations) -> bool:
        if any(self._generation.get(s, 0) != seen for s, seen in symbols.items()):
            return False
        if len(body) > self._max_entry_bytes:
            return False
        self._drop(key)
        tags = frozenset(symbols) - {EVERY_SYMBOL}
        self._entries[key] = (body, self._clock() + max_age, tags)
        self._bytes += len(body)
        for symbol in tags:
            self._by_symbol.setdefault(symbol, set()).add(key)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def invalidate(self, symbol: str | None) -> None:
        tag = EVERY_SYMBOL if symbol is None else symbol
        self._generation[tag] = self._generation.get(tag, 0) + 1
        if symbol is None:
            self._entries.clear()
            self._by_symbol.clear()
            self._bytes = 0
            return
        for key in self._by_symbol.pop(symbol, set()):
            self._drop(key)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        body, _, symbols = entry
        self._bytes -= len(body)
        for symbol in symbols:
            keys = self._by_symbol.get(symbol)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_symbol[symbol]


# KEYS: the entry, then the tag set of each symbol it read; ARGV: body, ttl ms, then pairs of
# a generation key and the generation seen. Stores only when every generation is still the one
# seen (a missing generation is 0).
_PUT = """
for i = 3, #ARGV, 2 do
  local current = redis.call('GET', ARGV[i]) or '0'
  if current ~= ARGV[i + 1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
"""
# KEYS: the generation, the tag set. Raises the generation, deletes the tagged entries.
_INVALIDATE = """
redis.call('INCR', KEYS[1])
local keys = redis.call('SMEMBERS', KEYS[2])
for i = 1, #keys, 500 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[2])
return #keys
"""


class RedisResponseStore:
    """Entries shared by every replica. Redis failing makes the cache miss, never the request
    fail. Entries expire with their max age; set Redis's maxmemory-policy to volatile-lru (or
    allkeys-lru) in production so that a flood of distinct queries evicts old entries."""

    PREFIX = "stockql:responses:"

    def __init__(self, redis: aioredis.Redis, *, max_entry_bytes: int) -> None:
        self._redis = redis
        self._max_entry_bytes = max_entry_bytes
        self._put = redis.register_script(_PUT)
        self._invalidate = redis.register_script(_INVALIDATE)

    async def get(self, key: str) -> CachedResponse | None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._entry_key(key))
                pipe.pttl(self._entry_key(key))
                body, ttl_ms = await pipe.execute()
        except RedisError as error:
            log.debug("response cache read failed: %s", error)
            return None
        if body is None or ttl_ms <= 0:
            return None
        return CachedResponse(body, math.ceil(ttl_ms / 1000))

    async def generations(self, symbols: Iterable[str]) -> Generations:
        ordered = sorted({EVERY_SYMBOL, *symbols})
        try:
            values = await self._redis.mget([self._generation_key(s) for s in ordered])
        except RedisError as error:
            log.debug("response cache read failed: %s", error)
            return dict.fromkeys(ordered, -1)  # never current: nothing is stored
        return {s: int(v) if v is not None else 0 for s, v in zip(ordered, values, strict=True)}

    async def put(self, key: str, body: bytes, *, max_age: int, symbols: Generations) -> bool:
        if len(body) > self._max_entry_bytes or any(seen < 0 for seen in symbols.values()):
            return False
        keys = [self._entry_key(key), *(self._tag_key(s) for s in symbols if s != EVERY_SYMBOL)]
        args: list[bytes | str | int] = [body, max_age * 1000]
        for symbol, seen in symbols.items():
            args += [self._generation_key(symbol), seen]
        try:
            return bool(await self._put(keys=keys, args=args))
        except RedisError as error:
            log.debug("response cache write failed: %s", error)
            return False

    async def invalidate(self, symbol: str | None) -> None:
        try:
            if symbol is None:
                await self._invalidate_every_symbol()
            else:
                await self._invalidate(keys=[self._generation_key(symbol), self._tag_key(symbol)])
        except RedisError as error:
            log.warning("response cache invalidation of %s failed: %s", symbol or "all", error)

    async def _invalidate_every_symbol(self) -> None:
        # Raised first: a response computed before it is not stored from now on, and every
        # entry stored before it is found by the scan (SCAN returns what exists throughout).
        await self._redis.incr(self._generation_key(EVERY_SYMBOL))
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=self._entry_key("*"), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await self._redis.unlink(*batch)
                batch = []
        if batch:
            await self._redis.unlink(*batch)

    def _entry_key(self, key: str) -> str:
        return f"{self.PREFIX}entry:{key}"

    def _generation_key(self, symbol: str) -> str:
        return f"{self.PREFIX}generation:{symbol}"

    def _tag_key(self, symbol: str) -> str:
        return f"{self.PREFIX}symbol:{symbol}"


def response_store(
    redis: aioredis.Redis | None, *, max_bytes: int, max_entry_bytes: int
) -> ResponseStore:
    """In Redis when there is one (shared by the replicas), else in this process's memory."""
    if redis is not None:
        return RedisResponseStore(redis, max_entry_bytes=max_entry_bytes)
    return MemoryResponseStore(max_bytes=max_bytes, max_entry_bytes=max_entry_bytes)
