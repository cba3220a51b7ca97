from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.market_jobs import clean_up_bars, last_close, refresh_daily_after_close
from domain.history import HistoryService
from domain.market import Interval
from tests.support.fakes import Clock, DictCache, FakeBarStore, FakeProvider, daily_bars

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_last_close_is_todays_close_only_after_four_pm_new_york() -> None:
    # 2024-06-03 is a Monday; 16:00 New York is 20:00 UTC in summer.
    assert last_close(datetime(2024, 6, 3, 21, 0, tzinfo=UTC)) == datetime(
        2024, 6, 3, 20, 0, tzinfo=UTC
    )
    assert last_close(datetime(2024, 6, 3, 19, 0, tzinfo=UTC)) == datetime(
        2024, 5, 31, 20, 0, tzinfo=UTC
    )
    # A Saturday looks back to Friday.
    assert last_close(datetime(2024, 6, 8, 12, 0, tzinfo=UTC)) == datetime(
        2024, 6, 7, 20, 0, tzinfo=UTC
    )


async def test_refresh_after_close_fetches_only_stale_symbols_and_reports_new_bars() -> None:
    provider = FakeProvider(
        {"AAPL": daily_bars(50, start=START), "MSFT": daily_bars(50, start=START)}
    )
    store, clock = FakeBarStore(), Clock(datetime(2024, 3, 11, 14, 0, tzinfo=UTC))
    history = HistoryService(provider=provider, store=store, cache=DictCache(), clock=clock)
    await history.history("AAPL")
    await history.history("MSFT")
    provider.bars["AAPL"] = daily_bars(51, start=START)
    clock.now = datetime(2024, 3, 11, 21, 0, tzinfo=UTC)
    seen: list[str] = []

    async def on_new_bar(symbol: str) -> None:
        seen.append(symbol)

    updated = await refresh_daily_after_close(
        history, store, ["AAPL", "MSFT"], now=clock.now, on_new_bar=on_new_bar
    )
    assert updated == seen == ["AAPL"]
    assert provider.calls.count(("bars", "MSFT")) == 2
    again = await refresh_daily_after_close(history, store, ["AAPL", "MSFT"], now=clock.now)
    assert again == []
    assert len(provider.calls) == 4


async def test_clean_up_removes_old_intraday_bars_and_keeps_daily_ones() -> None:
    store = FakeBarStore()
    bars = daily_bars(30, start=START)
    await store.upsert_bars("AAPL", Interval.ONE_MINUTE, bars, source="t")
    await store.upsert_bars("AAPL", Interval.DAILY, bars, source="t")
    removed = await clean_up_bars(
        store, keep_intraday=timedelta(days=10), now=bars[-1].timestamp + timedelta(days=1)
    )
    assert removed > 0
    assert all(
        bar.timestamp >= bars[-1].timestamp - timedelta(days=9)
        for bar in await store.load_bars("AAPL", Interval.ONE_MINUTE)
    )
    assert len(await store.load_bars("AAPL", Interval.DAILY)) == 30
