"""Latest prices: cache -> provider, falling back to the newest stored bar."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import orjson

from domain.bar_store import BarStore
from domain.cache import Cache, symbol_key
from domain.history import SIMULATED_SOURCE
from domain.market import Bar, Interval, Quote
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
        cached = await self._cached(key)
        if cached is not None:
            return cached
        await self._unknown.check(symbol)
        return await self._flights.run_unless(
            key, lambda: self._cached(key), lambda: self._fetch(symbol, key)
        )

    def fresh_for(self, quote: Quote) -> float:
        """At most how many seconds `quote` stays the answer (0 for a stale one, which the
        next read may replace): how long a copy of a response showing it may be kept."""
        return 0.0 if quote.stale else self._ttl_seconds

    async def refresh(self, symbol: str) -> Quote:
        """Fetch from the provider now and cache it (used by the polling job)."""
        symbol = normalize_symbol(symbol)
        return await self._fetch(symbol, symbol_key(symbol, "quote"))

    async def remember(self, quote: Quote) -> None:
        """Make `quote` (a streamed trade's price) the latest one for `ttl_seconds`."""
        await self._cache.set(
            symbol_key(quote.symbol, "quote"), _encode(quote), ttl_seconds=self._ttl_seconds
        )

    async def _cached(self, key: str) -> Quote | None:
        blob = await self._cache.get(key)
        return None if blob is None else _decode(blob)

    async def _fetch(self, symbol: str, key: str) -> Quote:
        if self._provider.name == SIMULATED_SOURCE:
            imported = await self._imported_quote(symbol)
            if imported is not None:
                return imported
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

    async def _imported_quote(self, symbol: str) -> Quote | None:
        """The newest stored close of a symbol whose daily bars came from an import or a real
        provider: the simulator never stands in for a user's own data (None: it may)."""
        record = await self._store.last_fetch(symbol, Interval.DAILY)
        if record is None or record.source == SIMULATED_SOURCE:
            return None
        newest = await self._newest_bar(symbol)
        return None if newest is None else _quote_of(symbol, newest, source=record.source)

    async def _newest_bar(self, symbol: str) -> Bar | None:
        newest = None
        for interval in _FALLBACK_INTERVALS:
            bar = await self._store.latest_bar(symbol, interval)
            if bar is not None and (newest is None or bar.timestamp > newest.timestamp):
                newest = bar
        return newest

    async def _stored_quote(self, symbol: str, error: ProviderError) -> Quote:
        newest = await self._newest_bar(symbol)
        if newest is None:
            if isinstance(error, UnknownSymbol):
                raise await self._unknown.remember(symbol) from error
            raise unavailable_error(
                error, nothing_stored=f"no price is stored for {symbol}"
            ) from error
        return _quote_of(symbol, newest, source="database")


def _quote_of(symbol: str, bar: Bar, *, source: str) -> Quote:
    """A stored bar's close as a quote: stale, since it is no live price."""
    return Quote(
        symbol=symbol,
        price=bar.close,
        timestamp=bar.timestamp,
        source=source,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        volume=bar.volume,
        stale=True,
    )


def _encode(quote: Quote) -> bytes:
    return orjson.dumps(dataclasses.asdict(quote))


def _decode(blob: bytes) -> Quote:
    data = orjson.loads(blob)
    data["timestamp"] = datetime.fromisoformat(data["timestamp"])
    return Quote(**data)
