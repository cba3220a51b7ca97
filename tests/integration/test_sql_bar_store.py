"""SqlBarStore on SQLite and PostgreSQL, both migrated to head."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sql import bar_store
from app.adapters.sql.bar_store import BARS, COPY_MIN_ROWS, SqlBarStore
from domain.bar_store import FetchRecord
from domain.market import Bar, Interval
from domain.streaming import MinuteBar

START = datetime(2015, 1, 5, tzinfo=UTC)
MINUTE_T0 = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
NEW_YORK_WINTER = timezone(timedelta(hours=-5))

# A trigger that makes the database itself fail on one row, mid-batch.
REFUSE_NEGATIVE_CLOSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_negative_close BEFORE INSERT ON bars WHEN NEW.close < 0 "
        "BEGIN SELECT RAISE(ABORT, 'negative close'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_negative_close() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.close < 0 THEN RAISE EXCEPTION 'negative close'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_negative_close BEFORE INSERT OR UPDATE ON bars "
        "FOR EACH ROW EXECUTE FUNCTION refuse_negative_close()",
    ],
}


def daily_bars(count: int, *, start: datetime = START, shift: float = 0.0) -> list[Bar]:
    return [
        Bar(
            timestamp=start + timedelta(days=day),
            open=100.0 + day + shift,
            high=101.5 + day + shift,
            low=99.25 + day + shift,
            close=100.75 + day + shift,
            volume=1_000_000.0 + day,
        )
        for day in range(count)
    ]


@pytest.fixture
def store(engine: AsyncEngine) -> SqlBarStore:
    return SqlBarStore(engine)


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the batches that went through the PostgreSQL COPY path."""
    sizes: list[int] = []
    copy_upsert = SqlBarStore._copy_upsert

    async def counting(
        self: SqlBarStore,
        connection: AsyncConnection,
        symbol: str,
        interval: Interval,
        source: str,
        bars: Iterable[tuple[datetime, Bar]],
    ) -> None:
        batch = list(bars)
        sizes.append(len(batch))
        await copy_upsert(self, connection, symbol, interval, source, batch)

    monkeypatch.setattr(SqlBarStore, "_copy_upsert", counting)
    return sizes


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(BARS))).scalar_one()


async def sources(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set((await connection.execute(select(BARS.c.source).distinct())).scalars())


async def test_upserting_the_same_bars_twice_keeps_one_row_per_timestamp(
    store: SqlBarStore, engine: AsyncEngine
) -> None:
    bars = daily_bars(30)

    assert await store.upsert_bars("AAPL", Interval.DAILY, bars, source="simulator") == 30
    assert await store.upsert_bars("AAPL", Interval.DAILY, bars, source="simulator") == 30

    assert await store.load_bars("AAPL", Interval.DAILY) == bars
    assert await count_rows(engine) == 30


async def test_upsert_replaces_changed_values_and_source(
    store: SqlBarStore, engine: AsyncEngine
) -> None:
    await store.upsert_bars("AAPL", Interval.DAILY, daily_bars(10), source="simulator")
    changed = daily_bars(10, shift=0.5)

    await store.upsert_bars("AAPL", Interval.DAILY, changed, source="alphavantage")

    assert await store.load_bars("AAPL", Interval.DAILY) == changed
    assert await sources(engine) == {"alphavantage"}


async def test_upsert_of_no_bars_writes_nothing(store: SqlBarStore, engine: AsyncEngine) -> None:
    assert await store.upsert_bars("AAPL", Interval.DAILY, [], source="simulator") == 0
    assert await count_rows(engine) == 0


async def test_the_last_of_several_bars_with_one_timestamp_wins(store: SqlBarStore) -> None:
    bars = daily_bars(COPY_MIN_ROWS + 10)
    correction = replace(bars[5], close=1.0)

    written = await store.upsert_bars(
        "AAPL", Interval.DAILY, [*bars, correction], source="simulator"
    )

    assert written == len(bars)
    assert (await store.load_bars("AAPL", Interval.DAILY))[5] == correction


async def test_load_bars_bounds_are_inclusive(store: SqlBarStore) -> None:
    bars = daily_bars(10)
    await store.upsert_bars("AAPL", Interval.DAILY, bars, source="simulator")
    third, sixth = bars[2].timestamp, bars[5].timestamp

    assert await store.load_bars("AAPL", Interval.DAILY, start=third, end=sixth) == bars[2:6]
    assert await store.load_bars("AAPL", Interval.DAILY, start=third) == bars[2:]
    assert await store.load_bars("AAPL", Interval.DAILY, end=sixth) == bars[:6]
    assert await store.load_bars("AAPL", Interval.DAILY, start=sixth, end=third) == []


async def test_load_bars_returns_oldest_first_whatever_the_write_order(
    store: SqlBarStore,
) -> None:
    bars = daily_bars(50)
    shuffled = random.Random(7).sample(bars, len(bars))

    await store.upsert_bars("AAPL", Interval.DAILY, shuffled[:25], source="simulator")
    await store.upsert_bars("AAPL", Interval.DAILY, shuffled[25:], source="simulator")

    assert await store.load_bars("AAPL", Interval.DAILY) == bars


async def test_symbols_and_intervals_are_kept_apart(store: SqlBarStore) -> None:
    daily, other = daily_bars(3), daily_bars(3, shift=10.0)
    await store.upsert_bars("AAPL", Interval.DAILY, daily, source="simulator")
    await store.upsert_bars("MSFT", Interval.DAILY, other, source="simulator")
    await store.upsert_bars("AAPL", Interval.WEEKLY, other, source="simulator")

    assert await store.load_bars("AAPL", Interval.DAILY) == daily
    assert await store.load_bars("MSFT", Interval.DAILY) == other
    assert await store.load_bars("AAPL", Interval.WEEKLY) == other
    assert await store.load_bars("AAPL", Interval.FIVE_MINUTES) == []


async def test_timestamps_in_other_zones_come_back_as_the_same_instants_in_utc(
    store: SqlBarStore,
) -> None:
    opening = datetime(2024, 1, 8, 9, 30, tzinfo=NEW_YORK_WINTER)
    bars = daily_bars(3, start=opening)
    await store.upsert_bars("AAPL", Interval.FIVE_MINUTES, bars, source="simulator")

    loaded = await store.load_bars("AAPL", Interval.FIVE_MINUTES, start=opening + timedelta(days=1))

    assert [bar.timestamp for bar in loaded] == [bar.timestamp for bar in bars[1:]]
    assert all(bar.timestamp.tzinfo is UTC for bar in loaded)
    assert loaded[0].timestamp == datetime(2024, 1, 9, 14, 30, tzinfo=UTC)


async def test_a_large_load_goes_through_copy_on_postgresql_and_round_trips(
    store: SqlBarStore, engine: AsyncEngine, copies: list[int]
) -> None:
    bars = daily_bars(5_000)
    changed = daily_bars(5_000, shift=0.25)

    assert await store.upsert_bars("AAPL", Interval.DAILY, bars, source="csv") == 5_000
    assert await store.upsert_bars("AAPL", Interval.DAILY, changed, source="csv") == 5_000

    assert await store.load_bars("AAPL", Interval.DAILY) == changed
    assert await count_rows(engine) == 5_000
    assert copies == ([5_000, 5_000] if engine.dialect.name == "postgresql" else [])


@pytest.mark.parametrize(
    "size",
    [bar_store.CHUNK_ROWS + 500, COPY_MIN_ROWS + 500],
    ids=["chunked-inserts", "large-load"],
)
async def test_a_database_error_late_in_a_batch_leaves_nothing_written(
    store: SqlBarStore, engine: AsyncEngine, size: int
) -> None:
    before = daily_bars(10)
    await store.upsert_bars("AAPL", Interval.DAILY, before, source="simulator")
    async with engine.begin() as connection:
        for statement in REFUSE_NEGATIVE_CLOSE[engine.dialect.name]:
            await connection.exec_driver_sql(statement)
    batch = daily_bars(size, shift=1.0)
    batch[-2] = replace(batch[-2], close=-1.0)

    with pytest.raises(DBAPIError, match="negative close"):
        await store.upsert_bars("AAPL", Interval.DAILY, batch, source="csv")

    assert await store.load_bars("AAPL", Interval.DAILY) == before
    assert await sources(engine) == {"simulator"}


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("field", ["volume", "vwap"])
async def test_a_value_that_is_not_finite_is_refused_before_writing(
    store: SqlBarStore, engine: AsyncEngine, bad: float, field: str
) -> None:
    batch = daily_bars(20)
    batch[10] = (
        replace(batch[10], volume=bad) if field == "volume" else replace(batch[10], vwap=bad)
    )

    with pytest.raises(ValueError, match="not finite"):
        await store.upsert_bars("AAPL", Interval.DAILY, batch, source="simulator")

    assert await count_rows(engine) == 0


async def test_a_naive_timestamp_is_refused(store: SqlBarStore) -> None:
    naive = daily_bars(1, start=datetime(2024, 1, 2))  # noqa: DTZ001

    with pytest.raises(ValueError, match="timezone-aware"):
        await store.upsert_bars("AAPL", Interval.DAILY, naive, source="simulator")


async def test_latest_bar_is_the_newest_one(store: SqlBarStore) -> None:
    assert await store.latest_bar("AAPL", Interval.DAILY) is None
    bars = daily_bars(5)

    await store.upsert_bars("AAPL", Interval.DAILY, bars[::-1], source="simulator")

    assert await store.latest_bar("AAPL", Interval.DAILY) == bars[-1]


async def test_fetch_records_round_trip_and_the_latest_replaces_the_previous(
    store: SqlBarStore,
) -> None:
    first = FetchRecord("AAPL", Interval.DAILY, datetime(2024, 1, 2, 21, tzinfo=UTC), "csv")
    second = FetchRecord(
        "AAPL", Interval.DAILY, datetime(2024, 1, 3, 16, tzinfo=NEW_YORK_WINTER), "alphavantage"
    )

    await store.record_fetch(first)
    assert await store.last_fetch("AAPL", Interval.DAILY) == first
    await store.record_fetch(second)

    latest = await store.last_fetch("AAPL", Interval.DAILY)
    assert latest == second
    assert latest is not None
    assert latest.fetched_at.tzinfo is UTC
    assert await store.last_fetch("AAPL", Interval.WEEKLY) is None
    assert await store.last_fetch("MSFT", Interval.DAILY) is None


async def test_delete_before_removes_only_older_bars_of_that_interval(store: SqlBarStore) -> None:
    bars = daily_bars(10)
    await store.upsert_bars("AAPL", Interval.FIVE_MINUTES, bars, source="test")
    await store.upsert_bars("MSFT", Interval.FIVE_MINUTES, bars, source="test")
    await store.upsert_bars("AAPL", Interval.DAILY, bars, source="test")

    removed = await store.delete_before(Interval.FIVE_MINUTES, bars[4].timestamp)

    assert removed == 8
    kept = await store.load_bars("AAPL", Interval.FIVE_MINUTES)
    assert [bar.timestamp for bar in kept] == [bar.timestamp for bar in bars[4:]]
    assert len(await store.load_bars("AAPL", Interval.DAILY)) == 10


async def test_replacing_other_sources_keeps_one_source_per_series(
    store: SqlBarStore, engine: AsyncEngine
) -> None:
    simulated = daily_bars(20)
    await store.upsert_bars("AAPL", Interval.DAILY, simulated, source="simulator")
    await store.upsert_bars("AAPL", Interval.FIVE_MINUTES, simulated, source="simulator")
    await store.upsert_bars("MSFT", Interval.DAILY, simulated, source="simulator")
    imported = daily_bars(5, start=START - timedelta(days=3000))

    written = await store.upsert_bars(
        "AAPL", Interval.DAILY, imported, source="csv", replace_other_sources=True
    )

    assert written == 5
    assert await store.load_bars("AAPL", Interval.DAILY) == imported
    assert await store.load_bars("AAPL", Interval.FIVE_MINUTES) == simulated
    assert await store.load_bars("MSFT", Interval.DAILY) == simulated
    assert await count_rows(engine) == 45


async def test_replacing_other_sources_keeps_the_same_sources_bars(store: SqlBarStore) -> None:
    older, newer = daily_bars(10), daily_bars(10, start=START + timedelta(days=10))
    await store.upsert_bars("AAPL", Interval.DAILY, older, source="csv")
    await store.upsert_bars("AAPL", Interval.DAILY, newer, source="csv", replace_other_sources=True)
    assert await store.load_bars("AAPL", Interval.DAILY) == older + newer


async def test_a_requested_refresh_marks_the_symbols_records_until_the_next_fetch(
    store: SqlBarStore,
) -> None:
    at = datetime(2024, 1, 2, 21, tzinfo=UTC)
    for symbol, interval in (("AAPL", Interval.DAILY), ("AAPL", Interval.ONE_MINUTE)):
        await store.record_fetch(FetchRecord(symbol, interval, at, "simulator"))
    await store.record_fetch(FetchRecord("MSFT", Interval.DAILY, at, "simulator"))

    assert await store.request_refresh("AAPL") == 2
    assert await store.request_refresh("IBM") == 0

    due = await store.last_fetch("AAPL", Interval.DAILY)
    assert due == FetchRecord("AAPL", Interval.DAILY, at, "simulator", refresh_due=True)
    other = await store.last_fetch("MSFT", Interval.DAILY)
    assert other is not None
    assert other.refresh_due is False
    await store.record_fetch(FetchRecord("AAPL", Interval.DAILY, at, "simulator"))
    fetched = await store.last_fetch("AAPL", Interval.DAILY)
    assert fetched is not None
    assert fetched.refresh_due is False
    assert await store.request_refresh(None) == 3


def minute_bar(minute: int, close: float, symbol: str = "AAPL") -> MinuteBar:
    start = MINUTE_T0 + timedelta(minutes=minute)
    return MinuteBar(symbol, start, close - 1, close + 1, close - 2, close, 100.0, 7, close - 0.5)


async def test_minute_bars_are_stored_as_min1_with_trades_and_vwap(store: SqlBarStore) -> None:
    bars = [minute_bar(0, 100.0), minute_bar(1, 101.0), minute_bar(0, 50.0, symbol="MSFT")]
    assert await store.upsert_minute_bars(bars, source="finnhub") == 3
    assert await store.load_minute_bars("AAPL") == bars[:2]
    assert await store.load_bars("MSFT", Interval.MIN1) == [
        Bar(MINUTE_T0, 49.0, 51.0, 48.0, 50.0, 100.0, trades=7, vwap=49.5)
    ]
    assert await store.load_bars("AAPL", Interval.ONE_MINUTE) == []


async def test_a_minute_bar_without_trade_count_or_vwap_loads_without_them(
    store: SqlBarStore,
) -> None:
    unknown = replace(minute_bar(0, 100.0), trades=None, vwap=None)
    await store.upsert_minute_bars([unknown], source="alpaca-stream")
    assert await store.load_minute_bars("AAPL") == [unknown]
    [bar] = await store.load_bars("AAPL", Interval.MIN1)
    assert (bar.close, bar.trades, bar.vwap) == (100.0, None, None)


@pytest.mark.parametrize("size", [10, COPY_MIN_ROWS + 10], ids=["inserts", "large-load"])
async def test_bars_keep_their_trade_count_and_vwap_through_upsert_bars(
    store: SqlBarStore, size: int
) -> None:
    bars = [
        replace(bar, trades=day, vwap=bar.close - 0.5) if day % 2 else bar
        for day, bar in enumerate(daily_bars(size))
    ]
    await store.upsert_bars("AAPL", Interval.MIN1, bars, source="csv")
    assert await store.load_bars("AAPL", Interval.MIN1) == bars
    assert await store.latest_bar("AAPL", Interval.MIN1) == bars[-1]
    # Written again without them, the bars have none: no count survives from before.
    plain = daily_bars(size)
    await store.upsert_bars("AAPL", Interval.MIN1, plain, source="csv")
    assert await store.load_bars("AAPL", Interval.MIN1) == plain


async def test_a_minute_bar_written_again_is_replaced(store: SqlBarStore) -> None:
    await store.upsert_minute_bars([minute_bar(0, 100.0)], source="finnhub")
    await store.upsert_minute_bars([minute_bar(0, 104.0), minute_bar(0, 105.0)], source="finnhub")
    [stored] = await store.load_minute_bars("AAPL")
    assert (stored.close, stored.vwap, stored.trades) == (105.0, 104.5, 7)


async def test_bars_of_other_intervals_have_no_trade_count(store: SqlBarStore) -> None:
    await store.upsert_bars(
        "AAPL", Interval.DAILY, [Bar(MINUTE_T0, 1, 2, 0.5, 1.5, 10)], source="x"
    )
    assert await store.load_minute_bars("AAPL") == []
    await store.upsert_minute_bars([], source="finnhub")
    assert await store.load_minute_bars("AAPL", start=MINUTE_T0) == []
