"""BarStore on SQL: idempotent upserts (COPY for large loads on PostgreSQL) and range loads."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Select, Table, column, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sql.database import one_statement
from app.adapters.sql.tables import BarFetchRow, BarRow
from domain.bar_store import FetchRecord
from domain.market import Bar, Interval
from domain.streaming import MinuteBar

# SQLModel does not declare __table__ to type checkers.
BARS: Table = BarRow.__table__  # type: ignore[attr-defined]
BAR_FETCHES: Table = BarFetchRow.__table__  # type: ignore[attr-defined]

_VALUE_COLUMNS = ("open", "high", "low", "close", "volume", "source", "trades", "vwap")
_COLUMNS = ("symbol", "interval", "ts", *_VALUE_COLUMNS)

# Rows per executemany call; the chunks share one transaction, so a failure writes none of them.
CHUNK_ROWS = 1000
# Above this many rows PostgreSQL loads through COPY: about twice as fast as INSERTs at 5,000.
COPY_MIN_ROWS = 2000


class SqlBarStore:
    """domain.bar_store.BarStore on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def upsert_bars(
        self,
        symbol: str,
        interval: Interval,
        bars: Sequence[Bar],
        *,
        source: str,
        replace_other_sources: bool = False,
    ) -> int:
        """Insert or replace bars by (symbol, interval, timestamp), all or nothing.

        Idempotent; of several bars with the same timestamp the last one wins, trade count
        and VWAP included (NULL when the bar has none). With `replace_other_sources` the
        series' bars of other sources are deleted in the same transaction. Returns the number
        of distinct timestamps written. Raises ValueError, before writing anything, for a
        naive timestamp or a price, volume or VWAP that is not a finite number.
        """
        by_time = _by_utc_time(bars)
        if not by_time:
            return 0
        async with self._engine.begin() as connection:
            if replace_other_sources:
                await connection.execute(
                    BARS.delete().where(
                        BARS.c.symbol == symbol,
                        BARS.c.interval == interval.value,
                        BARS.c.source != source,
                    )
                )
            if self._postgres and len(by_time) > COPY_MIN_ROWS:
                await self._copy_upsert(connection, symbol, interval, source, by_time.items())
            else:
                rows = [_row(symbol, interval, ts, bar, source) for ts, bar in by_time.items()]
                await self._upsert_rows(connection, rows, _VALUE_COLUMNS)
        return len(by_time)

    async def upsert_minute_bars(self, bars: Sequence[MinuteBar], *, source: str) -> int:
        """Insert or replace streamed minute bars (any symbols) as MIN1 bars with their trade
        count and VWAP, all or nothing; of several for one symbol and minute the last wins.
        Returns the number of rows written."""
        rows = {
            (bar.symbol, bar.start): _row(
                bar.symbol, Interval.MIN1, bar.start.astimezone(UTC), bar, source
            )
            for bar in bars
        }
        if not rows:
            return 0
        async with self._engine.begin() as connection:
            await self._upsert_rows(connection, list(rows.values()), _VALUE_COLUMNS)
        return len(rows)

    async def load_minute_bars(
        self, symbol: str, *, start: datetime | None = None
    ) -> list[MinuteBar]:
        """The stored MIN1 bars of `symbol` from `start` on (optional), oldest first; a trade
        count or VWAP that was not stored is None."""
        query = _bar_query(symbol, Interval.MIN1)
        if start is not None:
            query = query.where(BARS.c.ts >= start)
        async with one_statement(self._engine) as connection:
            result = await connection.execute(query.order_by(BARS.c.ts))
            return [MinuteBar(symbol, *row) for row in result]

    async def load_bars(
        self,
        symbol: str,
        interval: Interval,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Bars with start <= timestamp <= end (either bound optional), oldest first, in UTC;
        with their trade count and VWAP where stored (MIN1 bars), else None."""
        query = _bar_query(symbol, interval).order_by(BARS.c.ts)
        if start is not None:
            query = query.where(BARS.c.ts >= start)
        if end is not None:
            query = query.where(BARS.c.ts <= end)
        async with one_statement(self._engine) as connection:
            result = await connection.execute(query)
            # Columns straight into Bars, no ORM objects: this serves whole 10-year histories.
            return [Bar(*row) for row in result]

    async def latest_bar(self, symbol: str, interval: Interval) -> Bar | None:
        """The newest bar, or None when there is none."""
        query = _bar_query(symbol, interval).order_by(BARS.c.ts.desc()).limit(1)
        async with one_statement(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else Bar(*row)

    async def delete_before(self, interval: Interval, before: datetime) -> int:
        statement = BARS.delete().where(
            BARS.c.interval == interval.value, BARS.c.ts < before.astimezone(UTC)
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)

    async def record_fetch(self, record: FetchRecord) -> None:
        """Remember when and from where a symbol's bars of one interval were fetched last."""
        row = {
            "symbol": record.symbol,
            "interval": record.interval.value,
            "fetched_at": record.fetched_at,
            "source": record.source,
            "refresh_due": record.refresh_due,
        }
        replace = ("fetched_at", "source", "refresh_due")
        async with self._engine.begin() as connection:
            await connection.execute(self._upsert(BAR_FETCHES, replace), row)

    async def request_refresh(self, symbol: str | None) -> int:
        """Mark the fetch records of `symbol` (every symbol's when None) refresh_due; returns
        how many records there were."""
        statement = BAR_FETCHES.update().values(refresh_due=True)
        if symbol is not None:
            statement = statement.where(BAR_FETCHES.c.symbol == symbol)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)

    async def last_fetch(self, symbol: str, interval: Interval) -> FetchRecord | None:
        """The latest fetch recorded for (symbol, interval), or None."""
        query = select(
            BAR_FETCHES.c.fetched_at, BAR_FETCHES.c.source, BAR_FETCHES.c.refresh_due
        ).where(BAR_FETCHES.c.symbol == symbol, BAR_FETCHES.c.interval == interval.value)
        async with one_statement(self._engine) as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        fetched_at, source, refresh_due = row
        return FetchRecord(symbol, interval, fetched_at, source, refresh_due=bool(refresh_due))

    async def _upsert_rows(
        self, connection: AsyncConnection, rows: list[dict[str, object]], replace: Sequence[str]
    ) -> None:
        statement = self._upsert(BARS, replace)
        for offset in range(0, len(rows), CHUNK_ROWS):
            await connection.execute(statement, rows[offset : offset + CHUNK_ROWS])

    def _upsert(self, target: Table, replace: Sequence[str]) -> postgresql.Insert | sqlite.Insert:
        insert = postgresql.insert if self._postgres else sqlite.insert
        return _replacing(insert(target), target, replace)

    async def _copy_upsert(
        self,
        connection: AsyncConnection,
        symbol: str,
        interval: Interval,
        source: str,
        bars: Iterable[tuple[datetime, Bar]],
    ) -> None:
        # The temporary table is created through SQLAlchemy first: that starts the transaction
        # the raw COPY then joins. It lives only until this transaction ends.
        await connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE bars_load (LIKE bars INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            "bars_load",
            columns=_COLUMNS,
            records=[
                # In _COLUMNS' order.
                (
                    symbol,
                    interval.value,
                    ts,
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                    source,
                    b.trades,
                    b.vwap,
                )
                for ts, b in bars
            ],
        )
        load = table("bars_load", *(column(name) for name in _COLUMNS))
        statement = postgresql.insert(BARS).from_select(_COLUMNS, select(load))
        await connection.execute(_replacing(statement, BARS, _VALUE_COLUMNS))


def _bar_query(
    symbol: str, interval: Interval
) -> Select[datetime, float, float, float, float, float, int | None, float | None]:
    return select(
        BARS.c.ts,
        BARS.c.open,
        BARS.c.high,
        BARS.c.low,
        BARS.c.close,
        BARS.c.volume,
        BARS.c.trades,
        BARS.c.vwap,
    ).where(BARS.c.symbol == symbol, BARS.c.interval == interval.value)


def _replacing(
    statement: postgresql.Insert | sqlite.Insert, target: Table, replace: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`statement` made an upsert that overwrites the `replace` columns of existing rows."""
    return statement.on_conflict_do_update(
        index_elements=list(target.primary_key.columns),
        set_={name: statement.excluded[name] for name in replace},
    )


def _row(
    symbol: str,
    interval: Interval,
    ts: datetime,
    bar: Bar | MinuteBar,
    source: str,
) -> dict[str, object]:
    return {
        "symbol": symbol,
        "interval": interval.value,
        "ts": ts,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "source": source,
        "trades": bar.trades,
        "vwap": bar.vwap,
    }


def _by_utc_time(bars: Iterable[Bar]) -> dict[datetime, Bar]:
    # One row per key: PostgreSQL refuses a statement that updates the same row twice.
    by_time: dict[datetime, Bar] = {}
    for bar in bars:
        if bar.timestamp.tzinfo is None:
            raise ValueError(f"naive timestamp {bar.timestamp!r}: bars must be timezone-aware")
        values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        if not all(map(math.isfinite, values)) or not math.isfinite(bar.vwap or 0.0):
            raise ValueError(f"bar at {bar.timestamp.isoformat()} has a value that is not finite")
        by_time[bar.timestamp.astimezone(UTC)] = bar
    return by_time
