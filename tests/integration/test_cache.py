from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.adapters.cache import MemoryCache, RedisCache
from domain.cache import symbol_key

# Short enough to wait out against a real Redis, long enough to read a value back first.
TTL = 0.15
HOUR = 3600.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Subject:
    """A cache under test and a way to let `TTL` seconds pass for it."""

    cache: MemoryCache | RedisCache
    wait_out_ttl: Callable[[], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "memory":
        clock = FakeClock()

        async def advance() -> None:
            clock.now += TTL

        return Subject(MemoryCache(clock=clock), advance)

    async def sleep() -> None:
        await asyncio.sleep(TTL + 0.1)

    return Subject(RedisCache(request.getfixturevalue("redis_client")), sleep)


async def test_a_key_never_set_reads_as_a_miss(subject: Subject) -> None:
    assert await subject.cache.get(symbol_key("AAPL", "quote")) is None


async def test_a_value_reads_back_until_its_ttl_passes(subject: Subject) -> None:
    key = symbol_key("AAPL", "quote")
    await subject.cache.set(key, b"\x00price\xff", ttl_seconds=TTL)

    assert await subject.cache.get(key) == b"\x00price\xff"
    await subject.wait_out_ttl()
    assert await subject.cache.get(key) is None


async def test_setting_a_key_again_replaces_its_value_and_ttl(subject: Subject) -> None:
    key = symbol_key("AAPL", "quote")
    await subject.cache.set(key, b"old", ttl_seconds=TTL)
    await subject.cache.set(key, b"new", ttl_seconds=HOUR)

    await subject.wait_out_ttl()

    assert await subject.cache.get(key) == b"new"


@pytest.mark.parametrize("ttl", [0.0, -1.0])
async def test_a_value_set_without_time_to_live_is_not_stored_and_drops_the_old_one(
    subject: Subject, ttl: float
) -> None:
    key = symbol_key("AAPL", "quote")
    await subject.cache.set(key, b"old", ttl_seconds=HOUR)

    await subject.cache.set(key, b"new", ttl_seconds=ttl)

    assert await subject.cache.get(key) is None


async def test_clearing_a_symbol_removes_its_keys_and_leaves_other_symbols(
    subject: Subject,
) -> None:
    cache = subject.cache
    cleared = [symbol_key("AAPL"), symbol_key("AAPL", "quote"), symbol_key("AAPL", "bars", "1min")]
    kept = [symbol_key("AAPLX", "quote"), symbol_key("MSFT", "quote"), symbol_key("AAP", "x")]
    for key in cleared + kept:
        await cache.set(key, key.encode(), ttl_seconds=HOUR)

    assert await cache.clear_symbol("AAPL") == {"AAPL": len(cleared)}

    assert [await cache.get(key) for key in cleared] == [None] * len(cleared)
    assert [await cache.get(key) for key in kept] == [key.encode() for key in kept]


async def test_clearing_every_symbol_leaves_keys_not_built_by_symbol_key(
    subject: Subject,
) -> None:
    cache = subject.cache
    symbol_keys = [symbol_key("AAPL", "quote"), symbol_key("MSFT", "bars", "daily")]
    others = ["stockql:budget:alphavantage:day", "stockql:search:simulator:apple", "other"]
    for key in symbol_keys + others:
        await cache.set(key, key.encode(), ttl_seconds=HOUR)

    assert await cache.clear_symbol(None) == {"AAPL": 1, "MSFT": 1}

    assert [await cache.get(key) for key in symbol_keys] == [None, None]
    assert [await cache.get(key) for key in others] == [key.encode() for key in others]


async def test_clearing_a_symbol_without_keys_removes_nothing(subject: Subject) -> None:
    await subject.cache.set(symbol_key("MSFT", "quote"), b"1", ttl_seconds=HOUR)

    assert await subject.cache.clear_symbol("AAPL") == {}
    assert await subject.cache.get(symbol_key("MSFT", "quote")) == b"1"


async def test_clearing_does_not_count_keys_that_already_expired(subject: Subject) -> None:
    await subject.cache.set(symbol_key("AAPL", "quote"), b"1", ttl_seconds=TTL)
    await subject.cache.set(symbol_key("AAPL", "bars"), b"2", ttl_seconds=HOUR)
    await subject.wait_out_ttl()

    assert await subject.cache.clear_symbol("AAPL") == {"AAPL": 1}


async def test_clearing_a_symbol_reads_pattern_characters_literally(subject: Subject) -> None:
    await subject.cache.set(symbol_key("AB", "quote"), b"1", ttl_seconds=HOUR)

    assert await subject.cache.clear_symbol("A?") == {}
    assert await subject.cache.clear_symbol("[A]B") == {}
    assert await subject.cache.get(symbol_key("AB", "quote")) == b"1"


async def test_memory_cache_evicts_the_least_recently_used_entry_beyond_its_size() -> None:
    cache = MemoryCache(max_entries=2, clock=FakeClock())
    await cache.set("a", b"a", ttl_seconds=HOUR)
    await cache.set("b", b"b", ttl_seconds=HOUR)
    await cache.get("a")  # "b" is now the least recently used

    await cache.set("c", b"c", ttl_seconds=HOUR)

    assert [await cache.get(key) for key in ("a", "b", "c")] == [b"a", None, b"c"]


def test_memory_cache_refuses_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCache(max_entries=0)


async def test_redis_cache_stores_values_with_a_millisecond_expiry(
    redis_client: aioredis.Redis,
) -> None:
    key = symbol_key("AAPL", "quote")

    await RedisCache(redis_client).set(key, b"1", ttl_seconds=1.5)

    assert 1000 < await redis_client.pttl(key) <= 1500


async def test_concurrent_reads_each_get_their_own_value(subject: Subject) -> None:
    keys = [symbol_key("AAPL", "quote", str(number)) for number in range(50)]
    for number, key in enumerate(keys[:25]):
        await subject.cache.set(key, f"value {number}".encode(), ttl_seconds=HOUR)
    values = await asyncio.gather(*(subject.cache.get(key) for key in [*keys, *keys]))
    expected = [f"value {number}".encode() for number in range(25)] + [None] * 25
    assert values == expected + expected


async def test_redis_cache_reads_asked_together_share_round_trips(
    redis_client: aioredis.Redis,
) -> None:
    cache = RedisCache(redis_client)
    await cache.set("stockql:shared", b"1", ttl_seconds=HOUR)
    await redis_client.config_resetstat()
    assert await asyncio.gather(*(cache.get("stockql:shared") for _ in range(40))) == [b"1"] * 40
    stats = await redis_client.info("commandstats")
    assert "cmdstat_get" not in stats
    assert stats["cmdstat_mget"]["calls"] <= 2  # the first alone, the rest together


async def test_redis_cache_clears_more_keys_than_one_unlink_batch(
    redis_client: aioredis.Redis,
) -> None:
    await redis_client.mset({symbol_key("AAPL", "bar", str(i)): b"1" for i in range(1203)})
    await redis_client.set(symbol_key("MSFT", "quote"), b"1")

    assert await RedisCache(redis_client).clear_symbol("AAPL") == {"AAPL": 1203}

    assert await redis_client.keys("*") == [symbol_key("MSFT", "quote").encode()]


async def test_redis_cache_reads_a_miss_when_redis_is_down(down_client: aioredis.Redis) -> None:
    assert await RedisCache(down_client).get(symbol_key("AAPL", "quote")) is None


async def test_redis_cache_skips_a_set_with_a_warning_when_redis_is_down(
    down_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.adapters.cache"):
        await RedisCache(down_client).set(symbol_key("AAPL", "quote"), b"1", ttl_seconds=HOUR)

    assert "Redis cache unavailable" in caplog.text


async def test_redis_cache_warns_once_per_outage(
    down_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCache(down_client)

    with caplog.at_level(logging.WARNING, logger="app.adapters.cache"):
        for _ in range(3):
            await cache.get(symbol_key("AAPL", "quote"))
            await cache.set(symbol_key("AAPL", "quote"), b"1", ttl_seconds=HOUR)

    assert len(caplog.records) == 1


async def test_redis_cache_clear_raises_when_redis_is_down(down_client: aioredis.Redis) -> None:
    with pytest.raises(RedisConnectionError):
        await RedisCache(down_client).clear_symbol("AAPL")


async def test_redis_cache_refuses_a_client_that_decodes_responses() -> None:
    client = aioredis.Redis(decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisCache(client)
    finally:
        await client.aclose()
