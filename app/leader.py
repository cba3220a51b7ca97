"""Leader election for workers: a Redis key with a TTL, renewed while the leader lives.

Several `stockql worker` processes may run; only the leader runs the scheduled jobs. When the
leader dies its key expires and another worker takes over within about one TTL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from domain.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)

LEADER_KEY = "stockql:worker:leader"

# Renew or release only while the key still holds our identity, atomically.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderElection:
    """Tries to become (or stay) leader every `ttl_seconds / 3`.

    `is_leader` is True only while our key is known to be held: after a failed renewal (Redis
    unreachable) it turns False at once, so two workers never both believe they lead for long.
    """

    def __init__(
        self, client: aioredis.Redis, *, key: str = LEADER_KEY, ttl_seconds: float = 10.0
    ) -> None:
        self._client = client
        self._key = key
        self._ttl_ms = int(ttl_seconds * 1000)
        self.identity = uuid.uuid4().hex
        self.is_leader = False

    async def step(self) -> bool:
        """Acquire the key if free, else renew it if ours. Returns whether we lead now."""
        try:
            if self.is_leader:
                held = await self._client.eval(_RENEW, 1, self._key, self.identity, self._ttl_ms)
            else:
                held = await self._client.set(self._key, self.identity, nx=True, px=self._ttl_ms)
        except RedisError as error:
            if self.is_leader:
                log.warning("lost worker leadership: %s", type(error).__name__)
            self.is_leader = False
            return False
        was_leader, self.is_leader = self.is_leader, bool(held)
        if self.is_leader and not was_leader:
            log.info("this worker (%s) is now the leader", self.identity)
        elif was_leader and not self.is_leader:
            log.warning("worker leadership taken over by another worker")
        return self.is_leader

    async def release(self) -> None:
        """Give the key up at once (a clean shutdown), so another worker need not wait."""
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            await self._client.eval(_RELEASE, 1, self._key, self.identity)
        except RedisError as error:
            log.warning("could not release worker leadership: %s", type(error).__name__)

    async def _campaign(self) -> None:
        interval = self._ttl_ms / 3000
        while True:
            await self.step()
            raise_if_cancelled()
            await asyncio.sleep(interval)


@asynccontextmanager
async def campaigning(election: LeaderElection) -> AsyncIterator[LeaderElection]:
    """Keep campaigning in the background; release leadership on exit."""
    await election.step()
    task = asyncio.create_task(election._campaign(), name="worker-leader-election")
    try:
        yield election
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await election.release()
