"""In-memory fakes of the domain ports, for unit tests of the domain services."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from domain.bar_store import FetchRecord
from domain.cache import symbol_of_key
from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import ProviderError, UnknownSymbol
from domain.users import MAX_WATCHLIST, EmailTaken, User, WatchlistFull, email_key


def daily_bars(count: int, *, start: datetime, first_close: float = 100.0) -> list[Bar]:
    """`count` weekday bars from `start` with closes first_close, first_close + 1, ..."""
    bars: list[Bar] = []
    day = start
    while len(bars) < count:
        if day.weekday() < 5:
            close = first_close + len(bars)
            bars.append(Bar(day, close - 0.5, close + 1, close - 1, close, 1000.0 + len(bars)))
        day += timedelta(days=1)
    return bars


class FakeProvider:
    name = "fake"
    intervals = frozenset({Interval.DAILY, Interval.FIVE_MINUTES})

    def __init__(self, bars: dict[str, list[Bar]], *, delay: float = 0.0) -> None:
        self.bars = bars
        self.delay = delay
        self.failure: ProviderError | None = None
        self.calls: list[tuple[str, str]] = []

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        self.calls.append(("bars", symbol))
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        if symbol not in self.bars:
            raise UnknownSymbol(symbol)
        return list(self.bars[symbol])

    async def fetch_quote(self, symbol: str) -> Quote:
        self.calls.append(("quote", symbol))
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        if symbol not in self.bars:
            raise UnknownSymbol(symbol)
        last = self.bars[symbol][-1]
        return Quote(symbol=symbol, price=last.close, timestamp=last.timestamp, source=self.name)

    async def search(self, query: str) -> list[SymbolMatch]:
        self.calls.append(("search", query))
        if self.failure is not None:
            raise self.failure
        return [SymbolMatch(s, f"{s} Inc", 1.0) for s in self.bars if s.startswith(query.upper())]


class FakeBarStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, Interval], dict[datetime, Bar]] = {}
        # The source of each stored bar, by series and timestamp.
        self.sources: dict[tuple[str, Interval], dict[datetime, str]] = {}
        self.fetches: dict[tuple[str, Interval], FetchRecord] = {}

    async def upsert_bars(
        self,
        symbol: str,
        interval: Interval,
        bars: Sequence[Bar],
        *,
        source: str,
        replace_other_sources: bool = False,
    ) -> int:
        table = self.rows.setdefault((symbol, interval), {})
        sources = self.sources.setdefault((symbol, interval), {})
        if replace_other_sources and bars:
            for ts in [ts for ts, other in sources.items() if other != source]:
                del table[ts], sources[ts]
        for bar in bars:
            table[bar.timestamp] = bar
            sources[bar.timestamp] = source
        return len(bars)

    async def load_bars(
        self,
        symbol: str,
        interval: Interval,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        table = self.rows.get((symbol, interval), {})
        return [
            table[ts]
            for ts in sorted(table)
            if (start is None or ts >= start) and (end is None or ts <= end)
        ]

    async def delete_before(self, interval: Interval, before: datetime) -> int:
        removed = 0
        for key, table in self.rows.items():
            if key[1] is interval:
                for ts in [ts for ts in table if ts < before]:
                    del table[ts]
                    self.sources.get(key, {}).pop(ts, None)
                    removed += 1
        return removed

    async def record_fetch(self, record: FetchRecord) -> None:
        self.fetches[(record.symbol, record.interval)] = record

    async def last_fetch(self, symbol: str, interval: Interval) -> FetchRecord | None:
        return self.fetches.get((symbol, interval))

    async def request_refresh(self, symbol: str | None) -> int:
        due = [key for key in self.fetches if symbol is None or key[0] == symbol]
        for key in due:
            self.fetches[key] = replace(self.fetches[key], refresh_due=True)
        return len(due)

    async def latest_bar(self, symbol: str, interval: Interval) -> Bar | None:
        bars = await self.load_bars(symbol, interval)
        return bars[-1] if bars else None


class DictCache:
    """A cache without expiry: enough to see what the services put in it."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        self.values[key] = value

    async def clear_symbol(self, symbol: str | None) -> dict[str, int]:
        prefix = f"stockql:sym:{symbol}:" if symbol else "stockql:sym:"
        doomed = [key for key in self.values if key.startswith(prefix)]
        for key in doomed:
            del self.values[key]
        return dict(Counter(symbol_of_key(key) for key in doomed))


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2024, 6, 3, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class FakeUserStore:
    """Users in a dict, with the store contract's email uniqueness and watchlist limit."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def create(self, user: User) -> None:
        if any(email_key(u.email) == email_key(user.email) for u in self.users.values()):
            raise EmailTaken(user.email)
        self.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def find_by_email(self, email: str) -> User | None:
        return next(
            (u for u in self.users.values() if email_key(u.email) == email_key(email)), None
        )

    async def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User | None:
        user = self.users.get(user_id)
        if user is None:
            return None
        if email is not None and any(
            email_key(u.email) == email_key(email) for u in self.users.values() if u.id != user_id
        ):
            raise EmailTaken(email)
        user = replace(
            user,
            name=user.name if name is None else name,
            email=user.email if email is None else email,
            password_hash=user.password_hash if password_hash is None else password_hash,
        )
        self.users[user_id] = user
        return user

    async def revoke_tokens(self, user_id: str) -> User | None:
        user = self.users.get(user_id)
        if user is None:
            return None
        self.users[user_id] = replace(user, token_generation=user.token_generation + 1)
        return self.users[user_id]

    async def add_to_watchlist(self, user_id: str, symbol: str) -> User | None:
        user = self.users.get(user_id)
        if user is None or symbol in user.watchlist:
            return user
        if len(user.watchlist) >= MAX_WATCHLIST:
            raise WatchlistFull(user_id)
        self.users[user_id] = replace(user, watchlist=(*user.watchlist, symbol))
        return self.users[user_id]

    async def remove_from_watchlist(self, user_id: str, symbol: str) -> User | None:
        user = self.users.get(user_id)
        if user is None:
            return None
        self.users[user_id] = replace(
            user, watchlist=tuple(s for s in user.watchlist if s != symbol)
        )
        return self.users[user_id]

    async def delete(self, user_id: str) -> bool:
        return self.users.pop(user_id, None) is not None
