"""BarSeries: bars as columns, with the trade count and VWAP only where bars have them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from domain.market import Bar, BarSeries, weekly_from_daily
from tests.support.fakes import daily_bars

START = datetime(2024, 6, 3, tzinfo=UTC)


def test_a_series_of_bars_without_trade_counts_has_no_such_columns() -> None:
    bars = daily_bars(5, start=START)
    series = BarSeries.from_bars(bars)
    assert (series.trades, series.vwap) == (None, None)
    assert series.trade_counts() == [None] * 5
    assert series.vwaps() == [None] * 5
    assert series.bars() == bars
    assert all(bar.trades is None and bar.vwap is None for bar in series.slice(1, 3).bars())


def test_trade_counts_and_vwap_are_carried_and_unknown_ones_stay_none() -> None:
    bars = daily_bars(4, start=START)
    bars[1] = replace(bars[1], trades=12, vwap=101.25)
    bars[2] = replace(bars[2], trades=3)  # a count without a VWAP (no volume)
    series = BarSeries.from_bars(bars)
    assert series.trades == [None, 12, 3, None]
    assert series.vwap == [None, 101.25, None, None]
    assert series.bars() == bars
    window = series.slice(1, 3)
    assert (window.trades, window.vwap) == ([12, 3], [101.25, None])
    assert window.bars() == bars[1:3]


def test_weekly_bars_built_from_several_days_have_no_trade_count() -> None:
    days = [replace(bar, trades=10, vwap=bar.close) for bar in daily_bars(5, start=START)]
    [week] = weekly_from_daily(BarSeries.from_bars(days)).bars()
    assert week == Bar(START, days[0].open, week.high, week.low, days[-1].close, week.volume)
    assert (week.trades, week.vwap) == (None, None)
