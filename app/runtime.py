"""The composition root: opens every connection once, wires adapters into domain services,
and closes them all on exit."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.alpaca_data import AlpacaDataProvider
from app.adapters.alphavantage import AlphaVantageProvider
from app.adapters.cache import MemoryCache, RedisCache
from app.adapters.call_budget import CallBudget, MemoryCallBudget, RedisCallBudget
from app.adapters.csv_bars import CsvProvider
from app.adapters.events.bus import open_event_bus
from app.adapters.events.held_prices import HeldPrices
from app.adapters.events.price_feed import MemoryPriceFeed, RedisPriceFeed
from app.adapters.live_symbols import MemoryLiveSymbols, RedisLiveSymbols, renewing
from app.adapters.login_attempts import MemoryLoginAttempts, RedisLoginAttempts
from app.adapters.metered import MeteredCache, MeteredProvider
from app.adapters.rate_limiter import MemoryRateLimiter, RedisRateLimiter
from app.adapters.response_stores import ResponseStore, response_store
from app.adapters.simulator import MarketSimulator
from app.adapters.sql.alert_store import SqlAlertStore
from app.adapters.sql.bar_store import SqlBarStore
from app.adapters.sql.database import create_engine, ping
from app.adapters.sql.model_store import SqlModelStore
from app.adapters.sql.notification_store import SqlNotificationStore
from app.adapters.sql.prediction_store import SqlPredictionStore
from app.adapters.sql.user_store import SqlUserStore
from app.adapters.symbol_directory import SymbolDirectory
from app.metrics import Metrics
from app.response_invalidation import InvalidatingPredictionStore, InvalidatingPriceFeed
from app.settings import Settings
from domain.accounts import AccountLimits, AccountService
from domain.active_model import ActiveModel
from domain.alerts.service import AlertService
from domain.backtesting import Backtester
from domain.cache import Cache
from domain.cache_clearing import CacheClearing
from domain.errors import NotFound, RateLimited, SymbolCheck, UpstreamUnavailable
from domain.events import EventBus, PriceFeed
from domain.history import HistoryPolicy, HistoryService
from domain.login_throttle import LoginAttempts, LoginPolicy
from domain.model_activation import following_active_model
from domain.notifications import Notifier
from domain.opening_prices import OpeningPrices
from domain.passwords import PasswordHasher
from domain.prediction_service import PredictionLimits, PredictionService
from domain.predictions import PredictionStore
from domain.providers import MarketDataProvider
from domain.quotes import QuoteService
from domain.rate_limits import RateLimiter
from domain.reactions import Reactions, react_to_events
from domain.symbol_search import SymbolSearchService
from domain.tokens import TokenIssuer
from domain.tracked_symbols import LiveSymbols, TrackedSymbols
from domain.unknown_symbols import UnknownSymbols
from domain.user_cache import CachedUserStore
from domain.users import UserStore
from graphql_schema.context import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    redis: aioredis.Redis | None
    provider: MarketDataProvider
    bar_store: SqlBarStore
    users: UserStore
    services: Services
    bus: EventBus
    metrics: Metrics
    cache: Cache
    # What follows an event (domain/reactions.py): announced by the worker's jobs too.
    reactions: Reactions
    # Whole responses of cacheable queries (app/response_cache.py); None when turned off.
    responses: ResponseStore | None = None

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
async def open_runtime(
    settings: Settings, *, metrics: Metrics | None = None
) -> AsyncIterator[Runtime]:
    """Everything `settings` asks for, counting into `metrics` (the app's; else its own)."""
    metrics = metrics if metrics is not None else Metrics()
    async with AsyncExitStack() as stack:
        engine = await _open_database(settings, stack)
        redis = _open_redis(settings, stack)
        cache: Cache = MeteredCache(
            RedisCache(redis) if redis is not None else MemoryCache(), metrics
        )
        limiter: RateLimiter = RedisRateLimiter(redis) if redis is not None else MemoryRateLimiter()
        responses = _response_store(settings, redis)
        market = await _open_market(settings, engine, redis, cache, stack, metrics)
        live = await _open_realtime(settings, redis, responses, stack, metrics)
        people = await _open_people(settings, engine, redis, cache, limiter, market, live, stack)
        signals = await _open_signals(
            settings, engine, limiter, responses, market, live, people, stack, metrics
        )
        services = Services(
            history=market.history,
            quotes=market.quotes,
            search=market.search,
            accounts=people.accounts,
            symbols=settings.symbols,
            tracked=live.tracked,
            alerts=people.alerts,
            notifications=people.notifier,
            prices=live.prices,
            openings=OpeningPrices(quotes=market.quotes, feed=live.prices),
            bus=live.bus,
            predictions=signals.predictions,
            models=signals.models,
            backtests=signals.backtests,
            cache_clearing=CacheClearing(
                cache=cache,
                store=market.store,
                quotes=market.quotes,
                tracked=settings.symbols,
                also_clear=responses.invalidate if responses is not None else None,
            ),
            symbol_names=market.directory,
        )
        log.info(
            "runtime open: provider=%s database=%s redis=%s",
            market.provider.name,
            engine.url.get_backend_name(),
            "yes" if redis else "no",
        )
        yield Runtime(
            settings,
            engine,
            redis,
            market.provider,
            market.store,
            people.users,
            services,
            bus=live.bus,
            metrics=metrics,
            cache=cache,
            reactions=signals.reactions,
            responses=responses,
        )


async def _open_database(settings: Settings, stack: AsyncExitStack) -> AsyncEngine:
    if settings.migrates_on_start:
        # Alembic (~10 MiB) is imported only by a process that migrates.
        from app.migrate import upgrade_database

        await asyncio.to_thread(upgrade_database, settings.database_url)
    engine = create_engine(
        settings.database_url,
        pool_timeout=settings.database_pool_timeout_seconds,
        statement_timeout=settings.database_statement_timeout_seconds,
    )
    stack.push_async_callback(engine.dispose)
    return engine


def _open_redis(settings: Settings, stack: AsyncExitStack) -> aioredis.Redis | None:
    if not settings.redis_url:
        return None
    # Fail fast when Redis is down: the cache degrades to misses instead of stalling. A
    # blocking pool makes a burst (a thousand subscriptions opening at once) wait for a
    # connection; redis-py's default pool raises "Too many connections" at 100.
    redis = aioredis.Redis.from_pool(
        aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_pool_timeout_seconds,
            socket_connect_timeout=2,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 1),
        )
    )
    stack.push_async_callback(redis.aclose)
    return redis


@dataclass(frozen=True, slots=True)
class _Market:
    """Market data: the provider and what reads through it."""

    provider: MarketDataProvider
    store: SqlBarStore
    directory: SymbolDirectory
    quotes: QuoteService
    history: HistoryService
    search: SymbolSearchService


async def _open_market(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis | None,
    cache: Cache,
    stack: AsyncExitStack,
    metrics: Metrics,
) -> _Market:
    directory = SymbolDirectory()
    source = await _open_provider(settings, redis, stack, metrics, directory)
    provider = MeteredProvider(source, metrics)
    store = SqlBarStore(engine)
    # Company names are refused locally only where a provider call costs something: the
    # simulator and CSV files answer "unknown" for free, and may list such names.
    unknown = UnknownSymbols(
        cache,
        ttl_seconds=settings.unknown_symbol_ttl_seconds,
        names=directory if isinstance(source, AlphaVantageProvider) else None,
    )
    quotes = QuoteService(
        provider=provider,
        store=store,
        cache=cache,
        ttl_seconds=settings.quote_ttl_seconds,
        unknown=unknown,
    )
    policy = HistoryPolicy(
        daily_ttl_seconds=settings.daily_ttl_seconds,
        intraday_ttl_seconds=settings.intraday_ttl_seconds,
        stale_ttl_seconds=settings.stale_ttl_seconds,
        max_rows=settings.max_history_rows,
    )
    history = HistoryService(
        provider=provider,
        store=store,
        cache=cache,
        policy=policy,
        unknown=unknown,
        streamed=settings.stream_provider is not None,
    )
    search = SymbolSearchService(
        provider=provider,
        cache=cache,
        fallback=None if isinstance(source, MarketSimulator) else directory,
        ttl_seconds=settings.search_ttl_seconds,
    )
    return _Market(provider, store, directory, quotes, history, search)


@dataclass(frozen=True, slots=True)
class _Realtime:
    """Events: the bus, the replayable price feed, and the symbols followed live."""

    bus: EventBus
    prices: PriceFeed
    tracked: TrackedSymbols


async def _open_realtime(
    settings: Settings,
    redis: aioredis.Redis | None,
    responses: ResponseStore | None,
    stack: AsyncExitStack,
    metrics: Metrics,
) -> _Realtime:
    # Redis pub/sub shared by every replica, or in-process without Redis.
    bus = await stack.enter_async_context(open_event_bus(settings.redis_url, metrics=metrics))
    prices: PriceFeed
    if redis is None:
        prices = MemoryPriceFeed(bus)
    else:
        # The newest event of a symbol whose channel is held here is known without Redis.
        prices = RedisPriceFeed(redis, bus, held=HeldPrices.observing(bus))
    if responses is not None:
        prices = InvalidatingPriceFeed(prices, responses)
    tracked = TrackedSymbols(
        configured=settings.symbols,
        live=await _open_live_symbols(settings, redis, stack),
        max_live=_max_live_symbols(settings),
    )
    return _Realtime(bus, prices, tracked)


def _max_live_symbols(settings: Settings) -> int:
    """STOCKQL_MAX_LIVE_SYMBOLS, lowered so a stream can follow every tracked symbol: a
    subscription to one more is refused (RATE_LIMITED, saying why) instead of going
    unstreamed."""
    stream_limit = settings.stream_max_symbols
    if stream_limit is None:
        return settings.max_live_symbols
    if len(settings.symbols) > stream_limit:
        log.error(
            "STOCKQL_SYMBOLS names %d symbols but the %s stream follows at most %d: the rest "
            "are not streamed",
            len(settings.symbols),
            settings.stream_provider,
            stream_limit,
        )
    return max(0, min(settings.max_live_symbols, stream_limit - len(settings.symbols)))


@dataclass(frozen=True, slots=True)
class _People:
    """Users: accounts, their notifications and their alerts."""

    users: UserStore
    accounts: AccountService
    notifier: Notifier
    alerts: AlertService


async def _open_people(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis | None,
    cache: Cache,
    limiter: RateLimiter,
    market: _Market,
    live: _Realtime,
    stack: AsyncExitStack,
) -> _People:
    notifier = Notifier(store=SqlNotificationStore(engine), bus=live.bus)
    users = await _open_user_store(settings, engine, stack)
    if settings.user_cache_seconds > 0:
        users = CachedUserStore(users, cache, max_age_seconds=settings.user_cache_seconds)
    attempts: LoginAttempts = (
        RedisLoginAttempts(redis) if redis is not None else MemoryLoginAttempts()
    )
    accounts = _account_service(settings, users, limiter, attempts, cache, market.quotes, notifier)
    alerts = AlertService(
        store=SqlAlertStore(engine), notifier=notifier, symbol_exists=_symbol_check(market.quotes)
    )
    return _People(users, accounts, notifier, alerts)


@dataclass(frozen=True, slots=True)
class _Signals:
    """Predictions, the model they use, backtests, and the reactions to events."""

    predictions: PredictionService
    models: ActiveModel
    backtests: Backtester
    reactions: Reactions


async def _open_signals(
    settings: Settings,
    engine: AsyncEngine,
    limiter: RateLimiter,
    responses: ResponseStore | None,
    market: _Market,
    live: _Realtime,
    people: _People,
    stack: AsyncExitStack,
    metrics: Metrics,
) -> _Signals:
    models = ActiveModel(store=SqlModelStore(engine), bus=live.bus)
    await models.load_active_model()
    await stack.enter_async_context(
        following_active_model(models, live.bus, check_seconds=settings.model_check_seconds)
    )
    metrics.watch_model(lambda: models.model.version if models.model else None)
    limits = PredictionLimits(anonymous_per_address=settings.predict_limit_per_address)
    reactions = Reactions()
    predictions = PredictionService(
        history=market.history,
        predictions=_invalidating_predictions(SqlPredictionStore(engine), responses),
        active=models,
        bus=live.bus,
        reactions=reactions,
        limiter=limiter,
        limits=limits,
    )
    react_to_events(
        reactions, alerts=people.alerts, history=market.history, predict=predictions.predict
    )
    backtests = Backtester(history=market.history, active=models, limits=limits)
    return _Signals(predictions, models, backtests, reactions)


async def _alpaca_provider(
    settings: Settings, stack: AsyncExitStack, metrics: Metrics, directory: SymbolDirectory
) -> AlpacaDataProvider:
    if settings.alpaca_key_id is None or settings.alpaca_secret_key is None:
        raise ValueError(
            "STOCKQL_PROVIDER=alpaca needs STOCKQL_ALPACA_KEY_ID and STOCKQL_ALPACA_SECRET_KEY"
        )
    session = await stack.enter_async_context(aiohttp.ClientSession())
    return AlpacaDataProvider(
        session=session,
        key_id=settings.alpaca_key_id.get_secret_value(),
        secret_key=settings.alpaca_secret_key.get_secret_value(),
        names=directory,
        base_url=settings.alpaca_data_url,
        feed=settings.alpaca_feed,
        timeout_seconds=settings.alpaca_timeout_seconds,
        metrics=metrics,
    )


def _invalidating_predictions(
    store: PredictionStore, responses: ResponseStore | None
) -> PredictionStore:
    return store if responses is None else InvalidatingPredictionStore(store, responses)


def _response_store(settings: Settings, redis: aioredis.Redis | None) -> ResponseStore | None:
    """The response cache's store: in Redis, shared by every process, else in memory."""
    if not settings.response_cache:
        return None
    return response_store(
        redis,
        max_bytes=settings.response_cache_max_bytes,
        max_entry_bytes=settings.response_cache_max_entry_bytes,
    )


async def _open_live_symbols(
    settings: Settings, redis: aioredis.Redis | None, stack: AsyncExitStack
) -> LiveSymbols:
    """Live subscribers counted in Redis for every replica and the worker, else in memory."""
    if redis is None:
        return MemoryLiveSymbols()
    live = RedisLiveSymbols(redis, lease_seconds=settings.live_symbol_lease_seconds)
    return await stack.enter_async_context(renewing(live))


async def _open_user_store(
    settings: Settings, engine: AsyncEngine, stack: AsyncExitStack
) -> UserStore:
    if settings.mongodb_url:
        # PyMongo (~13 MiB) is imported only when users live in MongoDB.
        from app.adapters.mongo_user_store import open_mongo_user_store

        return await stack.enter_async_context(open_mongo_user_store(settings.mongodb_url))
    return SqlUserStore(engine)


def _account_service(
    settings: Settings,
    users: UserStore,
    limiter: RateLimiter,
    attempts: LoginAttempts,
    revoked_tokens: Cache,
    quotes: QuoteService,
    notifier: Notifier,
) -> AccountService:
    hasher_costs = {
        "time_cost": settings.password_time_cost,
        "memory_cost": settings.password_memory_kib,
    }
    hasher = PasswordHasher(**{name: value for name, value in hasher_costs.items() if value})
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    if secret is None:
        log.warning("STOCKQL_JWT_SECRET is not set: tokens are signed with a per-process secret")
        secret = secrets.token_urlsafe(48)
    tokens = TokenIssuer(secret=secret, lifetime=timedelta(minutes=settings.jwt_lifetime_minutes))
    return AccountService(
        store=users,
        hasher=hasher,
        tokens=tokens,
        limiter=limiter,
        login_attempts=attempts,
        revoked_tokens=revoked_tokens,
        login_policy=LoginPolicy(
            free_failures=settings.login_free_failures,
            backoff_base_seconds=settings.login_backoff_base_seconds,
            backoff_max_seconds=settings.login_backoff_max_seconds,
            addresses_per_email=settings.login_addresses_per_email,
            window_seconds=settings.login_failure_window_seconds,
            remember_address_days=settings.login_remember_address_days,
        ),
        limits=AccountLimits(
            login_per_address=settings.login_limit_per_address,
            register_per_email=settings.register_limit_per_email,
            register_per_address=settings.register_limit_per_address,
        ),
        symbol_exists=_symbol_check(quotes),
        on_account_updated=notifier.account_updated,
    )


def _symbol_check(quotes: QuoteService) -> SymbolCheck:
    """Whether the provider knows a symbol (watchlists, alerts), asked through the quotes."""

    async def symbol_exists(symbol: str) -> bool:
        try:
            await quotes.latest(symbol)
        except NotFound:
            return False
        except (UpstreamUnavailable, RateLimited):
            # The provider cannot tell now: accept a well-formed symbol rather than refuse it.
            return True
        return True

    return symbol_exists


async def _open_provider(
    settings: Settings,
    redis: aioredis.Redis | None,
    stack: AsyncExitStack,
    metrics: Metrics,
    directory: SymbolDirectory,
) -> MarketDataProvider:
    kind = settings.resolved_provider
    if kind == "simulator":
        return MarketSimulator(seed=settings.simulator_seed, extra_symbols=settings.symbols)
    if kind == "csv":
        return CsvProvider(directory=Path(settings.csv_directory))
    if kind == "alpaca":
        return await _alpaca_provider(settings, stack, metrics, directory)
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
        metrics=metrics,
    )
