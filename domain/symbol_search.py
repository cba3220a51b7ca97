"""Symbol search: the provider's search, with a local directory when the provider fails."""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

import orjson

from domain.cache import Cache
from domain.errors import InvalidInput
from domain.market import SymbolMatch
from domain.providers import MarketDataProvider, ProviderError

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 64


class SymbolLookup(Protocol):
    def search(self, query: str, *, limit: int = 10) -> list[SymbolMatch]: ...


class SymbolSearchService:
    def __init__(
        self,
        *,
        provider: MarketDataProvider,
        cache: Cache,
        fallback: SymbolLookup | None = None,
        ttl_seconds: float = 86400.0,
        limit: int = 10,
    ) -> None:
        self._provider = provider
        self._cache = cache
        self._fallback = fallback
        self._ttl_seconds = ttl_seconds
        self._limit = limit

    async def search(self, query: str) -> list[SymbolMatch]:
        """Best matches first, at most `limit`. Raises InvalidInput for a blank or overlong
        query. A failing provider is replaced by the local directory (empty without one)."""
        text = " ".join(query.split())
        if not text or len(text) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"query must be 1-{MAX_QUERY_LENGTH} characters", field="query")
        key = f"stockql:search:{self._provider.name}:{text.lower()}"
        blob = await self._cache.get(key)
        if blob is not None:
            return [SymbolMatch(**item) for item in orjson.loads(blob)]
        try:
            matches = (await self._provider.search(text))[: self._limit]
        except ProviderError as error:
            log.warning("provider %s search failed: %s", self._provider.name, type(error).__name__)
            return self._fallback.search(text, limit=self._limit) if self._fallback else []
        blob = orjson.dumps([dataclasses.asdict(match) for match in matches])
        await self._cache.set(key, blob, ttl_seconds=self._ttl_seconds)
        return matches
