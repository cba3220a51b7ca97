"""The worker's jobs against real Redis: tracked symbols' quotes are polled into the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from app import jobs
from app.runtime import open_runtime
from app.settings import Settings
from app.worker import running_worker
from domain.cache import symbol_key


async def test_polling_puts_fresh_quotes_of_tracked_symbols_in_the_cache(
    tmp_path: Path, redis_url: str
) -> None:
    settings = Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        redis_url=redis_url,
        symbols=("AAPL", "MSFT"),
        simulator_tick_seconds=0.2,
        migrate_on_start=True,
    )
    client = aioredis.from_url(redis_url)
    try:
        async with open_runtime(settings) as runtime, running_worker(runtime):
            first = await poll(client, "AAPL", lambda quote: True)
            assert await poll(client, "MSFT", lambda quote: True)
            later = await poll(client, "AAPL", lambda q: q["timestamp"] > first["timestamp"])
    finally:
        await client.aclose()
    assert later["price"] > 0


async def poll(
    client: aioredis.Redis, symbol: str, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The cached quote of `symbol` once it satisfies `wanted` (within 10 seconds)."""
    async with asyncio.timeout(10):
        while True:
            blob = await client.get(symbol_key(symbol, "quote"))
            if blob is not None and wanted(quote := orjson.loads(blob)):
                return cast(dict[str, Any], quote)
            await asyncio.sleep(0.05)


async def test_a_failing_job_run_is_retried_on_the_next_interval() -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    async with jobs.running([jobs.PeriodicJob("flaky", 0.05, flaky)]):
        await asyncio.sleep(0.3)
    assert len(runs) >= 3
