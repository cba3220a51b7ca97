"""Cache adapters: process memory (the embedded default) and Redis (shared by replicas)."""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection

import redis.asyncio as aioredis

from app.adapters.redis_outage import UNAVAILABLE, OutageLog
from domain.batched_lookups import BatchedLookup
from domain.cache import symbol_key, symbol_of_key

log = logging.getLogger(__name__)
_SCAN_COUNT = 1000
_UNLINK_BATCH = 500


class MemoryCache:
    """Entries in process memory, each living `ttl_seconds` after it was set.

    Expiry is checked on read against `clock` (seconds, monotonic); beyond `max_entries` the
    least recently used entry is evicted, so memory stays bounded without a sweeping task.
    """

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        # key -> (value, expiry on the clock's scale); order is least recently used first.
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            # Already expired: the value must not be read, nor an older one under this key.
            self._entries.pop(key, None)
            return
        self._entries[key] = (value, self._clock() + ttl_seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def clear_symbol(self, symbol: str | None) -> dict[str, int]:
        now = self._clock()
        owned = [key for key in self._entries if _is_symbol_key(key, symbol)]
        removed: Counter[str] = Counter()
        for key in owned:
            _, expires_at = self._entries.pop(key)
            # Expired entries are gone for readers already; like Redis, do not count them.
            if expires_at > now:
                removed[symbol_of_key(key)] += 1
        return dict(removed)


class RedisCache:
    """Entries in Redis with a millisecond expiry, shared by every replica.

    The cache is an optimisation: while Redis is unreachable `get` misses and `set` does
    nothing (one warning per outage), so requests are served from the database. How long an
    unreachable Redis makes each call wait is the client's configuration: build it with
    `socket_connect_timeout`, `socket_timeout` and a short `retry` (redis-py's default retries
    ten times with backoff). `clear_symbol` is an admin action and raises instead.
    The client must return bytes (decode_responses=False); its owner closes it.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisCache needs a client with decode_responses=False")
        self._client = client
        # Every request touches the cache: the start of an outage is logged, not each call.
        self._outage = OutageLog(log, "Redis cache", "serving without it")
        # Reads asked while one is under way go together in one MGET: under load a request's
        # reads (its token's revocation and user stamp, its bars) share round trips and
        # commands with every other request's (issue 17).
        self._gets: BatchedLookup[str, bytes | None] = BatchedLookup(
            self._get_many, missing=lambda: None
        )

    async def get(self, key: str) -> bytes | None:
        return await self._gets.get(key)

    async def _get_many(self, keys: Collection[str]) -> dict[str, bytes | None]:
        try:
            values = await self._client.mget(keys)
        except UNAVAILABLE as error:
            self._outage.lost("get", error)
            return {}
        self._outage.found()
        found: dict[str, bytes | None] = {}
        for key, value in zip(keys, values, strict=True):
            # decode_responses=False (checked at construction) makes it bytes, never str.
            assert not isinstance(value, str)
            found[key] = value
        return found

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        try:
            if ttl_seconds <= 0:
                # Redis refuses a zero expiry; an expired value must not leave an older one.
                await self._client.unlink(key)
            else:
                # Round up so that a TTL under a millisecond still stores the value briefly.
                await self._client.set(key, value, px=max(1, math.ceil(ttl_seconds * 1000)))
        except UNAVAILABLE as error:
            self._outage.lost("set", error)
            return
        self._outage.found()

    async def clear_symbol(self, symbol: str | None) -> dict[str, int]:
        removed: Counter[str] = Counter()
        batch: list[bytes] = []
        if symbol is None:
            pattern = _glob_escape(symbol_key("")) + "*"
        else:
            batch.append(symbol_key(symbol).encode())
            pattern = _glob_escape(symbol_key(symbol, "")) + "*"
        # SCAN walks the keyspace in steps without blocking Redis as KEYS would; UNLINK frees
        # the values in the background. Keys deleted during a SCAN do not disturb it.
        async for key in self._client.scan_iter(match=pattern, count=_SCAN_COUNT):
            batch.append(key)
            if len(batch) >= _UNLINK_BATCH:
                await self._unlink(batch, removed)
                batch = []
        if batch:
            await self._unlink(batch, removed)
        return dict(removed)

    async def _unlink(self, keys: list[bytes], removed: Counter[str]) -> None:
        """UNLINK each key in one round trip, counting the keys that existed per symbol."""
        pipeline = self._client.pipeline(transaction=False)
        for key in keys:
            pipeline.unlink(key)
        for key, existed in zip(keys, await pipeline.execute(), strict=True):
            if existed:
                removed[symbol_of_key(key.decode())] += 1


def _is_symbol_key(key: str, symbol: str | None) -> bool:
    """Whether `key` was built by symbol_key for `symbol` (for any symbol when None)."""
    # symbol_key(x, "") ends with the separator: it prefixes x's keys but not those of a
    # longer symbol (AAPL, not AAPLX); symbol_key("") likewise prefixes every symbol's keys.
    if symbol is None:
        return key.startswith(symbol_key(""))
    return key == symbol_key(symbol) or key.startswith(symbol_key(symbol, ""))


def _glob_escape(text: str) -> str:
    """`text` as a literal in a Redis MATCH pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
