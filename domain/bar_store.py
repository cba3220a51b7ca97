"""The bar store port: where fetched bars are kept (the SQL database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.market import Bar, Interval


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """When a symbol's bars of one interval were last fetched from a provider, and from which."""

    symbol: str
    interval: Interval
    fetched_at: datetime
    source: str


class BarStore(Protocol):
    async def upsert_bars(
        self, symbol: str, interval: Interval, bars: Sequence[Bar], *, source: str
    ) -> int:
        """Insert or replace bars by (symbol, interval, timestamp) in one transaction;
        idempotent. Returns the number of bars written."""
        ...

    async def load_bars(
        self,
        symbol: str,
        interval: Interval,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Bars with start <= timestamp <= end (either bound optional), oldest first."""
        ...

    async def record_fetch(self, record: FetchRecord) -> None: ...

    async def last_fetch(self, symbol: str, interval: Interval) -> FetchRecord | None: ...

    async def latest_bar(self, symbol: str, interval: Interval) -> Bar | None: ...

    async def delete_before(self, interval: Interval, before: datetime) -> int:
        """Remove every symbol's bars of `interval` older than `before`; returns how many."""
        ...
