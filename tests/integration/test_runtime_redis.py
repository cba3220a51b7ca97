"""The runtime's Redis client under a burst of commands (a thousand subscriptions at once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.runtime import open_runtime
from app.settings import Settings


async def test_commands_beyond_the_pool_size_wait_for_a_connection(
    tmp_path: Path, redis_url: str
) -> None:
    # redis-py's own pool raises "Too many connections" past its size (100 by default).
    settings = Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'runtime.db'}",
        redis_url=redis_url,
        redis_max_connections=4,
        migrate_on_start=True,
    )
    async with open_runtime(settings) as runtime:
        assert runtime.redis is not None
        await runtime.redis.set("stockql:test:burst", b"1")
        answers = await asyncio.gather(
            *(runtime.redis.get("stockql:test:burst") for _ in range(300))
        )
        await runtime.redis.delete("stockql:test:burst")
        assert answers == [b"1"] * 300
        pool = runtime.redis.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 4
