"""Both response stores keep the same promises: an entry lives for its max age at most, goes
at once when a symbol it read is invalidated (or every symbol), and a response computed
while such an invalidation happened is not stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from app.adapters.response_stores import MemoryResponseStore, RedisResponseStore, ResponseStore
from tests.support.services import redis_database

LIMIT = 1024


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ResponseStore]:
    if request.param == "memory":
        yield MemoryResponseStore(max_bytes=10 * LIMIT, max_entry_bytes=LIMIT)
        return
    async with redis_database() as url:
        client = aioredis.from_url(url)
        try:
            yield RedisResponseStore(client, max_entry_bytes=LIMIT)
        finally:
            await client.aclose()


async def put(
    store: ResponseStore, key: str, body: bytes, *symbols: str, max_age: int = 60
) -> bool:
    seen = await store.generations(symbols)
    return await store.put(key, body, max_age=max_age, symbols=seen)


async def test_an_entry_is_read_back_with_the_seconds_it_has_left(store: ResponseStore) -> None:
    assert await store.get("k") is None
    assert await put(store, "k", b"body", "AAPL", max_age=30)
    hit = await store.get("k")
    assert hit is not None
    assert hit.body == b"body"
    assert 29 <= hit.max_age <= 30


async def test_an_entry_expires_with_its_max_age(store: ResponseStore) -> None:
    assert await put(store, "k", b"body", max_age=1)
    await asyncio.sleep(1.1)
    assert await store.get("k") is None


async def test_invalidating_a_symbol_drops_only_what_read_it(store: ResponseStore) -> None:
    assert await put(store, "aapl", b"1", "AAPL")
    assert await put(store, "both", b"2", "AAPL", "MSFT")
    assert await put(store, "msft", b"3", "MSFT")
    assert await put(store, "none", b"4")
    await store.invalidate("AAPL")
    assert [await store.get(key) is None for key in ("aapl", "both", "msft", "none")] == [
        True,
        True,
        False,
        False,
    ]


async def test_invalidating_every_symbol_drops_everything(store: ResponseStore) -> None:
    assert await put(store, "aapl", b"1", "AAPL")
    assert await put(store, "none", b"2")
    await store.invalidate(None)
    assert await store.get("aapl") is None
    assert await store.get("none") is None


async def test_a_response_computed_across_an_invalidation_is_not_stored(
    store: ResponseStore,
) -> None:
    seen = await store.generations(["AAPL"])
    await store.invalidate("AAPL")  # a new price arrived while the response was computed
    assert not await store.put("k", b"old price", max_age=60, symbols=seen)
    assert await store.get("k") is None
    other = await store.generations(["MSFT"])
    await store.invalidate(None)
    assert not await store.put("k", b"old data", max_age=60, symbols=other)
    assert await put(store, "k", b"new price", "AAPL")


async def test_a_response_larger_than_the_entry_limit_is_not_kept(store: ResponseStore) -> None:
    assert not await put(store, "big", b"x" * (LIMIT + 1))
    assert await store.get("big") is None
    assert await put(store, "fits", b"x" * LIMIT)


async def test_memory_keeps_the_most_recently_used_within_its_bytes() -> None:
    store = MemoryResponseStore(max_bytes=3 * LIMIT, max_entry_bytes=LIMIT)
    for key in ("a", "b", "c"):
        assert await put(store, key, b"x" * LIMIT, "AAPL")
    assert await store.get("a") is not None  # a is now the most recently used
    assert await put(store, "d", b"x" * LIMIT, "AAPL")
    assert [await store.get(key) is not None for key in ("a", "b", "c", "d")] == [
        True,
        False,
        True,
        True,
    ]
    assert len(store) == 3
    await store.invalidate("AAPL")
    assert len(store) == 0


async def test_redis_failing_is_a_miss_and_nothing_stored() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        store = RedisResponseStore(client, max_entry_bytes=LIMIT)
        assert await store.get("k") is None
        assert not await put(store, "k", b"body", "AAPL")
        await store.invalidate("AAPL")  # logged, not raised
    finally:
        await client.aclose()
