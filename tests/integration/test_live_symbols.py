"""Live symbols counted per replica in real Redis: every replica sees the union, the limit
holds across replicas, and a replica that stops renewing (a crash) is forgotten."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.adapters.live_symbols import COUNTS_KEY, REPLICAS_KEY, RedisLiveSymbols, renewing
from domain.errors import UpstreamUnavailable
from tests.support.server import free_port
from tests.support.waiting import eventually

LEASE = 1.0


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


def replica(client: aioredis.Redis, name: str, lease: float = 30.0) -> RedisLiveSymbols:
    return RedisLiveSymbols(client, lease_seconds=lease, replica=name)


async def test_every_replica_sees_the_symbols_watched_in_any_of_them(
    client: aioredis.Redis,
) -> None:
    a, b, worker = replica(client, "a"), replica(client, "b"), replica(client, "worker")
    assert await a.join("IBM", limit=5)
    assert await b.join("ORCL", limit=5)
    assert await worker.symbols() == {"IBM", "ORCL"}
    await a.leave("IBM")
    assert await worker.symbols() == {"ORCL"}


async def test_the_limit_counts_symbols_across_replicas_not_subscribers(
    client: aioredis.Redis,
) -> None:
    a, b = replica(client, "a"), replica(client, "b")
    assert await a.join("IBM", limit=1)
    assert await a.join("IBM", limit=1)
    assert not await b.join("ORCL", limit=1)
    # Already live elsewhere: one more subscriber of it costs nothing.
    assert await b.join("IBM", limit=1)
    await a.leave("IBM")
    await a.leave("IBM")
    assert await a.symbols() == {"IBM"}  # b still watches it
    assert not await a.join("ORCL", limit=1)
    await b.leave("IBM")
    assert await b.join("ORCL", limit=1)
    assert await a.symbols() == {"ORCL"}


async def test_only_the_first_and_last_subscriber_of_a_replica_change_redis(
    client: aioredis.Redis,
) -> None:
    a = replica(client, "a")
    for _ in range(3):
        await a.join("IBM", limit=5)
    assert await client.hgetall(COUNTS_KEY) == {b"a|IBM": b"1"}
    await a.renew()
    assert await client.hgetall(COUNTS_KEY) == {b"a|IBM": b"3"}
    for _ in range(2):
        await a.leave("IBM")
    assert await client.hgetall(COUNTS_KEY) == {b"a|IBM": b"3"}
    await a.leave("IBM")
    assert await client.hgetall(COUNTS_KEY) == {}


async def test_a_crashed_replicas_symbols_vanish_after_its_lease(client: aioredis.Redis) -> None:
    crashed, alive = replica(client, "crashed", lease=LEASE), replica(client, "alive")
    assert await crashed.join("IBM", limit=1)  # and never renews
    assert not await alive.join("ORCL", limit=1)

    async def forgotten() -> bool:
        return await alive.symbols() == frozenset()

    await eventually(forgotten, within=LEASE * 3)
    assert await alive.join("ORCL", limit=1)
    assert await client.zrange(REPLICAS_KEY, 0, -1) == [b"alive"]


async def test_a_renewing_replica_keeps_its_symbols_past_its_lease_and_withdraws_them_on_exit(
    client: aioredis.Redis,
) -> None:
    observer = replica(client, "observer")
    async with renewing(replica(client, "a", lease=LEASE)) as a:
        await a.join("IBM", limit=1)
        await asyncio.sleep(LEASE * 2)
        assert await observer.symbols() == {"IBM"}
    assert await observer.symbols() == frozenset()
    assert await client.exists(COUNTS_KEY, REPLICAS_KEY) == 0


async def test_renewing_rewrites_what_redis_lost(client: aioredis.Redis) -> None:
    a = replica(client, "a")
    await a.join("IBM", limit=1)
    await client.flushdb()  # a Redis restart without persistence
    assert await a.symbols() == frozenset()
    await a.renew()
    assert await replica(client, "observer").symbols() == {"IBM"}


async def test_without_redis_joining_is_a_typed_error_and_the_replica_sees_only_its_own_symbols(
    client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    a = replica(client, "a")
    await a.join("IBM", limit=5)
    unreachable = aioredis.Redis(
        port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        down = RedisLiveSymbols(unreachable, replica="down")
        with caplog.at_level(logging.WARNING):
            with pytest.raises(UpstreamUnavailable):
                await down.join("IBM", limit=5)
            assert await down.symbols() == frozenset()
            await down.renew()  # logged, not raised
        assert caplog.text.count("Redis live symbols unavailable") == 1
    finally:
        await unreachable.aclose()
    assert await a.symbols() == {"IBM"}
