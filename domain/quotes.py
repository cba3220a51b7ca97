"""Latest prices: cache -> provider, falling back to the newest stored bar."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import orjson

from domain.bar_store import BarStore
from domain.cache import Cache, symbol_key
from domain.market import Interval, Quote
from domain.providers import MarketDataProvider, ProviderError, UnknownSymbol, unavailable_error
from domain.single_flight import SingleFlight
from domain.symbols import normalize_symbol
from domain.unknown_symbols import UnknownSymbols

log = logging.getLogger(__name__)

# Bars a stale quote may come from, newest data first.
_FALLBACK_INTERVALS = (Interval.ONE_MINUTE, Interval.FIVE_MINUTES, Interval.DAILY)


class QuoteService:
    def __init__(
        self,
        *,
        provider: MarketDataProvider,
        store: BarStore,
        cache: Cache,
        ttl_seconds: float = 15.0,
        unknown: UnknownSymbols | None = None,
    ) -> None:
        """`unknown`: the symbols the provider does not know (shared with HistoryService)."""
        self._provider = provider
        self._store = store
        self._cache = cache
        self._ttl_seconds = ttl_seconds
        self._unknown = unknown or UnknownSymbols(cache)
        self._flights: SingleFlight[Quote] = SingleFlight()

    async def latest(self, symbol: str) -> Quote:
        """The latest price: cached for `ttl_seconds`; when the provider fails, the close of
        the newest stored bar with stale=True. Raises InvalidInput, NotFound or
        UpstreamUnavailable."""
        symbol = normalize_symbol(symbol)
        key = symbol_key(symbol, "quote")
        blob = await self._cache.get(key)
        if blob is not None:
            return _decode(blob)
        await self._unknown.check(symbol)
        return await self._flights.run(key, lambda: self._fetch(symbol, key))

    async def refresh(self, symbol: str) -> Quote:
        """Fetch from the provider now and cache it (used by the polling job)."""
        symbol = normalize_symbol(symbol)
        return await self._fetch(symbol, symbol_key(symbol, "quote"))

    async def _fetch(self, symbol: str, key: str) -> Quote:
        try:
            quote = await self._provider.fetch_quote(symbol)
        except ProviderError as error:
            log.log(
                logging.INFO if isinstance(error, UnknownSymbol) else logging.WARNING,
                "provider %s quote failed for %s: %s",
                self._provider.name,
                symbol,
                type(error).__name__,
            )
            return await self._stored_quote(symbol, error)
        await self._cache.set(key, _encode(quote), ttl_seconds=self._ttl_seconds)
        return quote

    async def _stored_quote(self, symbol: str, error: ProviderError) -> Quote:
        newest = None
        for interval in _FALLBACK_INTERVALS:
            bar = await self._store.latest_bar(symbol, interval)
            if bar is not None and (newest is None or bar.timestamp > newest.timestamp):
                newest = bar
        if newest is None:
            if isinstance(error, UnknownSymbol):
                raise await self._unknown.remember(symbol) from error
            raise unavailable_error(
                error, nothing_stored=f"no price is stored for {symbol}"
            ) from error
        return Quote(
            symbol=symbol,
            price=newest.close,
            timestamp=newest.timestamp,
            source="database",
            open=newest.open,
            high=newest.high,
            low=newest.low,
            volume=newest.volume,
            stale=True,
        )


def _encode(quote: Quote) -> bytes:
    return orjson.dumps(dataclasses.asdict(quote))


def _decode(blob: bytes) -> Quote:
    data = orjson.loads(blob)
    data["timestamp"] = datetime.fromisoformat(data["timestamp"])
    return Quote(**data)
