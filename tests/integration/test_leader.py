"""Worker leader election on real Redis: one leader, take-over when it dies, clean hand-over."""

from __future__ import annotations

import redis.asyncio as aioredis

from app.leader import LeaderElection, campaigning
from tests.support.waiting import eventually


async def test_only_one_of_two_workers_leads(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        first, second = LeaderElection(client), LeaderElection(client)
        assert await first.step() is True
        assert await second.step() is False
        assert await first.step() is True
    finally:
        await client.aclose()


async def test_a_dead_leader_is_taken_over_within_its_ttl(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        dying = LeaderElection(client, ttl_seconds=0.6)
        assert await dying.step()
        # The dying worker stops renewing without releasing: it crashed.
        survivor = LeaderElection(client, ttl_seconds=0.6)
        async with campaigning(survivor):
            await eventually(lambda: survivor.is_leader, within=3)
        assert await dying.step() is False
    finally:
        await client.aclose()


async def test_a_leader_that_stops_cleanly_hands_over_at_once(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        leader = LeaderElection(client, ttl_seconds=30)
        async with campaigning(leader):
            assert leader.is_leader
        follower = LeaderElection(client, ttl_seconds=30)
        assert await follower.step() is True
    finally:
        await client.aclose()


async def test_losing_redis_drops_leadership(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        leader = LeaderElection(client)
        assert await leader.step()
        await client.aclose()
        broken = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        leader._client = broken
        assert await leader.step() is False
        assert leader.is_leader is False
        await broken.aclose()
    finally:
        await client.aclose()
