"""The composition root: opens every connection once, wires adapters into domain services,
and closes them all on exit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.alphavantage import AlphaVantageProvider
from app.adapters.cache import MemoryCache, RedisCache
from app.adapters.call_budget import CallBudget, MemoryCallBudget, RedisCallBudget
from app.adapters.csv_bars import CsvProvider
from app.adapters.simulator import MarketSimulator
from app.adapters.sql.bar_store import SqlBarStore
from app.adapters.sql.database import create_engine, ping
from app.adapters.symbol_directory import SymbolDirectory
from app.migrate import upgrade_database
from app.settings import Settings
from domain.cache import Cache
from domain.history import HistoryPolicy, HistoryService
from domain.providers import MarketDataProvider
from domain.quotes import QuoteService
from domain.symbol_search import SymbolSearchService
from graphql_schema.context import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    redis: aioredis.Redis | None
    provider: MarketDataProvider
    bar_store: SqlBarStore
    services: Services

    async def check_ready(self) -> dict[str, str]:
        """ "ok" or the failure per dependency; raises nothing."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.engine), timeout=2)
            checks["database"] = "ok"
        except Exception as error:  # any failure means not ready
            checks["database"] = f"unavailable: {type(error).__name__}"
        if self.redis is not None:
            try:
                await asyncio.wait_for(self.redis.ping(), timeout=2)
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"unavailable: {type(error).__name__}"
        return checks


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        if settings.migrates_on_start:
            await asyncio.to_thread(upgrade_database, settings.database_url)
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        redis = None
        if settings.redis_url:
            # Fail fast when Redis is down: the cache degrades to misses instead of stalling.
            redis = aioredis.from_url(
                settings.redis_url,
                socket_connect_timeout=2,
                socket_timeout=2,
                retry=Retry(NoBackoff(), 1),
            )
            stack.push_async_callback(redis.aclose)
        cache: Cache = RedisCache(redis) if redis is not None else MemoryCache()
        provider = await _open_provider(settings, redis, stack)
        store = SqlBarStore(engine)
        directory = SymbolDirectory()
        policy = HistoryPolicy(
            daily_ttl_seconds=settings.daily_ttl_seconds,
            intraday_ttl_seconds=settings.intraday_ttl_seconds,
            max_rows=settings.max_history_rows,
        )
        services = Services(
            history=HistoryService(provider=provider, store=store, cache=cache, policy=policy),
            quotes=QuoteService(
                provider=provider, store=store, cache=cache, ttl_seconds=settings.quote_ttl_seconds
            ),
            search=SymbolSearchService(
                provider=provider,
                cache=cache,
                fallback=None if isinstance(provider, MarketSimulator) else directory,
                ttl_seconds=settings.search_ttl_seconds,
            ),
            cache=cache,
            symbols=settings.symbols,
        )
        log.info(
            "runtime open: provider=%s database=%s redis=%s",
            provider.name,
            engine.url.get_backend_name(),
            "yes" if redis else "no",
        )
        yield Runtime(settings, engine, redis, provider, store, services)


async def _open_provider(
    settings: Settings, redis: aioredis.Redis | None, stack: AsyncExitStack
) -> MarketDataProvider:
    kind = settings.resolved_provider
    if kind == "simulator":
        return MarketSimulator(seed=settings.simulator_seed, extra_symbols=settings.symbols)
    if kind == "csv":
        return CsvProvider(directory=Path(settings.csv_directory))
    if settings.alphavantage_api_key is None:
        raise ValueError("STOCKQL_PROVIDER=alphavantage needs STOCKQL_ALPHAVANTAGE_API_KEY")
    session = await stack.enter_async_context(aiohttp.ClientSession())
    budget: CallBudget
    if redis is not None:
        budget = RedisCallBudget(
            redis,
            per_minute=settings.alphavantage_calls_per_minute,
            per_day=settings.alphavantage_calls_per_day,
        )
    else:
        budget = MemoryCallBudget(
            per_minute=settings.alphavantage_calls_per_minute,
            per_day=settings.alphavantage_calls_per_day,
        )
    return AlphaVantageProvider(
        session=session,
        api_key=settings.alphavantage_api_key.get_secret_value(),
        base_url=settings.alphavantage_base_url,
        budget=budget,
        timeout_seconds=settings.alphavantage_timeout_seconds,
        max_retries=settings.alphavantage_max_retries,
        premium=settings.alphavantage_premium,
    )
