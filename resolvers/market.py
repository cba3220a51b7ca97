"""Market data operations: history, latest price, symbol search, tracked symbols, cache."""

from datetime import date

import strawberry

from domain.market import Interval as DomainInterval
from graphql_schema.cache_control import CacheControl, lower_max_age
from graphql_schema.context import Info
from graphql_schema.types.market import (
    ClearCacheResult,
    Interval,
    PriceHistory,
    Quote,
    SymbolMatch,
)
from graphql_schema.warnings import warn


@strawberry.type
class MarketQuery:
    @strawberry.field(directives=[CacheControl(max_age=60)])
    async def history(
        self,
        info: Info,
        symbol: str,
        interval: Interval = DomainInterval.DAILY,
        start: date | None = None,
        end: date | None = None,
        limit: int | None = None,
    ) -> PriceHistory:
        history = await info.context.services.history.history(
            symbol, interval, start=start, end=end, limit=limit
        )
        for message in history.warnings:
            warn(info, "HISTORY_STARTS_LATER", message)
        lower_max_age(info, info.context.services.history.fresh_for(history))
        return PriceHistory.from_domain(history)

    @strawberry.field(directives=[CacheControl(max_age=5)])
    async def latest_price(self, info: Info, symbol: str) -> Quote:
        quotes = info.context.services.quotes
        quote = await quotes.latest(symbol)
        lower_max_age(info, quotes.fresh_for(quote))
        return Quote.from_domain(quote)

    @strawberry.field(directives=[CacheControl(max_age=3600)])
    async def search_symbols(self, info: Info, query: str) -> list[SymbolMatch]:
        matches = await info.context.services.search.search(query)
        return [SymbolMatch.from_domain(match) for match in matches]

    @strawberry.field(
        description="Symbols the server tracks in real time.",
        directives=[CacheControl(max_age=30)],
    )
    def symbols(self, info: Info) -> list[str]:
        return list(info.context.services.symbols)


@strawberry.type
class MarketMutation:
    @strawberry.mutation(
        description="Requires ADMIN. Without a symbol, clears the cache of every symbol. The "
        "next history read of a cleared symbol asks the provider (within its call budget). "
        "A symbol that is not stored, not tracked and unknown to the provider is NOT_FOUND."
    )
    async def clear_cache(self, info: Info, symbol: str | None = None) -> ClearCacheResult:
        await info.context.require_admin()
        cleared = await info.context.services.cache_clearing.clear(symbol)
        return ClearCacheResult(symbols=cleared.symbols, keys_removed=cleared.keys_removed)
