"""Symbols the market data provider said it does not know, remembered for a while, and company
names that are no symbols at all.

Every request for such a symbol would otherwise cost a provider call (Alpha Vantage's free
plan allows 25 a day) and a log line: a client repeating one could spend the day's budget
and flood the logs. Remembered in the cache under the symbol, so clearing a symbol's cache
forgets it too, and only when nothing is stored for the symbol (then the stored bars are
served, stale, as for any provider failure). A text the local directory knows as a company
name ("Apple") is refused without asking the provider at all.
"""

from __future__ import annotations

from domain.cache import Cache, symbol_key
from domain.errors import SymbolNotFound
from domain.symbol_names import SymbolNames

DEFAULT_TTL_SECONDS = 900.0
_MARK = b"unknown"


class UnknownSymbols:
    def __init__(
        self,
        cache: Cache,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        names: SymbolNames | None = None,
    ) -> None:
        """`names`: the directory that tells company names from tickers; without it every
        symbol not remembered as unknown is left to the provider."""
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        self._cache = cache
        self._ttl_seconds = ttl_seconds
        self._names = names

    async def check(self, symbol: str) -> None:
        """Raises SymbolNotFound when `symbol` is a company name rather than a ticker, or when
        the provider recently said it does not know it."""
        if self._names is not None and self._names.is_company_name(symbol):
            raise SymbolNotFound(symbol)
        if await self._cache.get(symbol_key(symbol, "unknown")) is not None:
            raise SymbolNotFound(symbol)

    async def remember(self, symbol: str) -> SymbolNotFound:
        """Remember that the provider does not know `symbol`; the error to raise for it."""
        await self._cache.set(symbol_key(symbol, "unknown"), _MARK, ttl_seconds=self._ttl_seconds)
        return SymbolNotFound(symbol)
