"""The bar store port: where fetched bars are kept (the SQL database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.market import Bar, Interval


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """When a symbol's bars of one interval were last written, and by which source: a
    provider's name, or "csv" for `stockql import-csv`. That source is the series' only one.

    `refresh_due` is True once an operator cleared the symbol's cache: the next read asks the
    provider instead of trusting the stored bars as fresh.
    """

    symbol: str
    interval: Interval
    fetched_at: datetime
    source: str
    refresh_due: bool = False


class BarStore(Protocol):
    async def upsert_bars(
        self,
        symbol: str,
        interval: Interval,
        bars: Sequence[Bar],
        *,
        source: str,
        replace_other_sources: bool = False,
    ) -> int:
        """Insert or replace bars by (symbol, interval, timestamp) in one transaction;
        idempotent. With `replace_other_sources`, the symbol's bars of that interval from any
        other source are deleted in the same transaction, so the series keeps one source.
        Returns the number of bars written."""
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

    async def request_refresh(self, symbol: str | None) -> int:
        """Mark the fetch records of `symbol` (of every symbol when None) refresh_due;
        returns how many records there were."""
        ...

    async def last_fetch(self, symbol: str, interval: Interval) -> FetchRecord | None: ...

    async def latest_bar(self, symbol: str, interval: Interval) -> Bar | None: ...

    async def delete_before(self, interval: Interval, before: datetime) -> int:
        """Remove every symbol's bars of `interval` older than `before`; returns how many."""
        ...
