"""Decorators of the cache and provider ports that count what passes through them (Prometheus):
cache hits and misses per kind of entry, provider calls per operation and outcome."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar

from app.metrics import Metrics
from domain.cache import Cache
from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import (
    MarketDataProvider,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)

T = TypeVar("T")

# The `stockql:sym:{SYMBOL}:{kind}:...` keys of domain.cache.symbol_key, and the
# `stockql:{kind}:...` keys of the others (search); any other key counts as "other".
_SYMBOL_KEY_PREFIX = "stockql:sym:"
_KINDS = frozenset({"bars", "quote", "search", "unknown"})


def cache_kind(key: str) -> str:
    """The kind of entry a cache key names ("bars", "quote", "search", "unknown" (symbols the
    provider does not know); else "other")."""
    if key.startswith(_SYMBOL_KEY_PREFIX):
        parts = key.split(":", 4)
        kind = parts[3] if len(parts) > 3 else ""
    else:
        kind = key.split(":", 2)[1] if key.count(":") >= 1 else ""
    return kind if kind in _KINDS else "other"


class MeteredCache:
    """domain.cache.Cache counting each `get` as a hit or a miss of its kind of entry."""

    def __init__(self, cache: Cache, metrics: Metrics) -> None:
        self._cache = cache
        self._metrics = metrics

    async def get(self, key: str) -> bytes | None:
        value = await self._cache.get(key)
        counter = self._metrics.cache_misses if value is None else self._metrics.cache_hits
        counter.labels(cache_kind(key)).inc()
        return value

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        await self._cache.set(key, value, ttl_seconds=ttl_seconds)

    async def clear_symbol(self, symbol: str | None) -> dict[str, int]:
        return await self._cache.clear_symbol(symbol)


def provider_outcome(error: Exception) -> str:
    """The outcome label of a provider call that raised `error`."""
    if isinstance(error, ProviderRateLimited):
        return "rate_limited"
    if isinstance(error, ProviderRejected):
        return "rejected"
    if isinstance(error, UnknownSymbol):
        return "unknown_symbol"
    if isinstance(error, ProviderUnavailable):
        return "unavailable"
    return "error"


class MeteredProvider:
    """domain.providers.MarketDataProvider counting each call by operation and outcome."""

    def __init__(self, provider: MarketDataProvider, metrics: Metrics) -> None:
        self._provider = provider
        self._metrics = metrics

    @property
    def name(self) -> str:
        return self._provider.name

    @property
    def intervals(self) -> frozenset[Interval]:
        return self._provider.intervals

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        return await self._counted("bars", self._provider.fetch_bars(symbol, interval, since=since))

    async def fetch_quote(self, symbol: str) -> Quote:
        return await self._counted("quote", self._provider.fetch_quote(symbol))

    async def search(self, query: str) -> list[SymbolMatch]:
        return await self._counted("search", self._provider.search(query))

    async def _counted(self, operation: str, call: Awaitable[T]) -> T:
        calls = self._metrics.provider_calls
        try:
            result = await call
        except Exception as error:
            calls.labels(self._provider.name, operation, provider_outcome(error)).inc()
            raise
        calls.labels(self._provider.name, operation, "ok").inc()
        return result
