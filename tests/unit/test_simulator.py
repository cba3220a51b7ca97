from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from app.adapters import _intraday_paths, _price_paths
from app.adapters.simulator import MarketSimulator
from app.adapters.symbol_directory import SymbolDirectory
from domain.market import Bar, Interval
from domain.providers import UnknownSymbol
from domain.trading_calendar import (
    NEW_YORK,
    is_trading_day,
    session_close,
    session_open,
    trading_days,
)

# Wednesday 2026-03-11, 11:07:23 in New York: a session is running.
IN_SESSION = datetime(2026, 3, 11, 15, 7, 23, tzinfo=UTC)
# Friday 2026-03-13, 16:00 in New York: the close before a weekend.
FRIDAY_CLOSE = datetime(2026, 3, 13, 20, 0, 0, tzinfo=UTC)
# Monday 2026-03-16, 09:30 in New York.
MONDAY_OPEN = datetime(2026, 3, 16, 13, 30, 0, tzinfo=UTC)
# Wednesday 2026-03-11, 08:00 in New York: the day's session has not opened.
BEFORE_OPEN = datetime(2026, 3, 11, 12, 0, 0, tzinfo=UTC)

SUBPROCESS_SCRIPT = """
import asyncio, datetime as d
from app.adapters.simulator import MarketSimulator
from domain.market import Interval
now = d.datetime(2026, 3, 11, 15, 7, 23, tzinfo=d.UTC)
simulator = MarketSimulator(seed=42, clock=lambda: now)
print(repr(asyncio.run(simulator.fetch_bars("MSFT", Interval.DAILY))[-2].close))
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def simulator(
    now: datetime = IN_SESSION,
    *,
    seed: int = 42,
    directory: SymbolDirectory | None = None,
    extra_symbols: tuple[str, ...] = (),
) -> MarketSimulator:
    return MarketSimulator(
        seed=seed, clock=Clock(now), directory=directory, extra_symbols=extra_symbols
    )


def clear_path_caches() -> None:
    _price_paths.daily_path.cache_clear()
    _intraday_paths.session_path.cache_clear()
    _intraday_paths.session_minutes.cache_clear()


def assert_consistent(bars: list[Bar]) -> None:
    for bar in bars:
        assert bar.high >= max(bar.open, bar.close, bar.low), bar
        assert bar.low <= min(bar.open, bar.close), bar
        assert bar.low > 0, bar
        assert bar.volume >= 0, bar


def by_new_york_day(bars: list[Bar]) -> dict[date, list[Bar]]:
    days: dict[date, list[Bar]] = defaultdict(list)
    for bar in bars:
        days[bar.timestamp.astimezone(NEW_YORK).date()].append(bar)
    return days


def daily_bar_of(minutes: list[Bar]) -> tuple[float, float, float, float, float]:
    return (
        minutes[0].open,
        max(bar.high for bar in minutes),
        min(bar.low for bar in minutes),
        minutes[-1].close,
        sum(bar.volume for bar in minutes),
    )


def ohlcv(bar: Bar) -> tuple[float, float, float, float, float]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)


async def prices_over(symbol: str, start: datetime, seconds: int) -> list[float]:
    clock = Clock(start)
    market = MarketSimulator(seed=42, clock=clock)
    prices = []
    for second in range(seconds):
        clock.now = start + timedelta(seconds=second)
        prices.append((await market.fetch_quote(symbol)).price)
    return prices


@pytest.fixture(scope="module")
async def daily() -> list[Bar]:
    return await simulator().fetch_bars("AAPL", Interval.DAILY)


@pytest.fixture(scope="module")
async def minutes() -> list[Bar]:
    return await simulator().fetch_bars("AAPL", Interval.ONE_MINUTE)


# Determinism


async def test_same_seed_gives_the_same_bars_in_a_new_instance() -> None:
    first = await simulator().fetch_bars("MSFT", Interval.FIVE_MINUTES)
    clear_path_caches()
    assert await simulator().fetch_bars("MSFT", Interval.FIVE_MINUTES) == first


async def test_same_seed_gives_the_same_bars_in_a_process_with_another_hash_seed() -> None:
    # Python salts hash() per process; the paths must not depend on it.
    expected = (await simulator().fetch_bars("MSFT", Interval.DAILY))[-2].close
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SUBPROCESS_SCRIPT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    output, _ = await process.communicate()
    assert process.returncode == 0
    assert float(output) == expected


async def test_different_symbols_get_different_paths() -> None:
    market = simulator()
    aapl = await market.fetch_bars("AAPL", Interval.DAILY)
    msft = await market.fetch_bars("MSFT", Interval.DAILY)
    returns = [np.diff(np.log([bar.close for bar in bars])) for bars in (aapl, msft)]
    assert abs(np.corrcoef(returns[0], returns[1])[0, 1]) < 0.1


async def test_different_seeds_get_different_paths() -> None:
    first = await simulator(seed=1).fetch_bars("AAPL", Interval.DAILY)
    second = await simulator(seed=2).fetch_bars("AAPL", Interval.DAILY)
    assert [bar.close for bar in first] != [bar.close for bar in second]


async def test_a_past_bar_does_not_change_as_the_clock_moves_on() -> None:
    earlier = await simulator(IN_SESSION).fetch_bars("AAPL", Interval.DAILY)
    later = await simulator(IN_SESSION + timedelta(days=400)).fetch_bars("AAPL", Interval.DAILY)
    assert earlier[-2] in later


# Daily bars


async def test_daily_history_covers_at_least_ten_years(daily: list[Bar]) -> None:
    assert daily[0].timestamp <= IN_SESSION - timedelta(days=3652)
    assert daily[-1].timestamp.date() == IN_SESSION.date()


async def test_daily_bars_fall_on_every_trading_day_and_no_other(daily: list[Bar]) -> None:
    days = [bar.timestamp.date() for bar in daily]
    assert days == trading_days(days[0], days[-1])
    assert all(is_trading_day(day) for day in days)


async def test_daily_bars_are_stamped_midnight_utc(daily: list[Bar]) -> None:
    assert all(bar.timestamp.tzinfo is UTC for bar in daily)
    assert {bar.timestamp.time() for bar in daily} == {datetime.min.time()}


async def test_daily_bars_are_consistent_ohlcv(daily: list[Bar]) -> None:
    assert_consistent(daily)


async def test_daily_bars_open_near_the_previous_close(daily: list[Bar]) -> None:
    gaps = [abs(b.open / a.close - 1) for a, b in itertools.pairwise(daily)]
    assert np.median(gaps) < 0.01


async def test_price_on_the_reference_day_is_near_the_typical_price(daily: list[Bar]) -> None:
    reference = datetime(2025, 1, 2, tzinfo=UTC)
    close = next(bar.close for bar in daily if bar.timestamp == reference)
    assert 0.5 * 230.0 < close < 2 * 230.0


async def test_volatility_regimes_show_as_calm_and_turbulent_stretches(daily: list[Bar]) -> None:
    returns = np.diff(np.log([bar.close for bar in daily]))
    rolling = np.lib.stride_tricks.sliding_window_view(returns, 21).std(axis=1)
    assert np.percentile(rolling, 95) > 2 * np.percentile(rolling, 5)


async def test_volume_rises_with_the_size_of_the_move(daily: list[Bar]) -> None:
    moves = np.abs(np.diff(np.log([bar.close for bar in daily])))
    volumes = np.array([bar.volume for bar in daily[1:]])
    assert np.corrcoef(moves, volumes)[0, 1] > 0.5


async def test_since_limits_how_far_back_daily_bars_go() -> None:
    since = datetime(2026, 1, 5, tzinfo=UTC)
    bars = await simulator().fetch_bars("AAPL", Interval.DAILY, since=since)
    assert bars[0].timestamp == since


async def test_since_later_in_a_day_starts_with_the_next_day() -> None:
    since = datetime(2026, 1, 5, 12, tzinfo=UTC)
    bars = await simulator().fetch_bars("AAPL", Interval.DAILY, since=since)
    assert bars[0].timestamp == datetime(2026, 1, 6, tzinfo=UTC)


async def test_since_reaches_back_to_the_start_of_2000() -> None:
    bars = await simulator().fetch_bars(
        "AAPL", Interval.DAILY, since=datetime(1990, 1, 1, tzinfo=UTC)
    )
    assert bars[0].timestamp == datetime(2000, 1, 3, tzinfo=UTC)


# Intraday bars


async def test_minute_bars_cover_thirty_finished_sessions_and_the_running_one(
    minutes: list[Bar],
) -> None:
    days = by_new_york_day(minutes)
    assert len(days) == 31
    finished = [day for day, bars in days.items() if len(bars) == 390]
    assert len(finished) == 30


async def test_minute_bars_lie_inside_the_regular_session(minutes: list[Bar]) -> None:
    for day, bars in by_new_york_day(minutes).items():
        assert is_trading_day(day)
        assert all(session_open(day) <= bar.timestamp < session_close(day) for bar in bars)
    assert {bar.timestamp.second for bar in minutes} == {0}


async def test_minute_bars_are_consistent_ohlcv(minutes: list[Bar]) -> None:
    assert_consistent(minutes)


async def test_minute_bars_follow_each_other_without_gaps_in_a_session(minutes: list[Bar]) -> None:
    for bars in by_new_york_day(minutes).values():
        assert all(b.open == a.close for a, b in itertools.pairwise(bars))


async def test_daily_bar_agrees_with_its_minute_bars(daily: list[Bar], minutes: list[Bar]) -> None:
    daily_by_day = {bar.timestamp.date(): bar for bar in daily}
    for day, bars in by_new_york_day(minutes).items():
        assert ohlcv(daily_by_day[day]) == daily_bar_of(bars)


async def test_five_minute_bars_aggregate_five_minute_bars(minutes: list[Bar]) -> None:
    five = await simulator().fetch_bars("AAPL", Interval.FIVE_MINUTES)
    groups: dict[datetime, list[Bar]] = defaultdict(list)
    for bar in minutes:
        opened = session_open(bar.timestamp.astimezone(NEW_YORK).date())
        offset = (bar.timestamp - opened) // timedelta(minutes=5)
        groups[opened + offset * timedelta(minutes=5)].append(bar)
    assert [bar.timestamp for bar in five] == sorted(groups)
    assert all(ohlcv(bar) == daily_bar_of(groups[bar.timestamp]) for bar in five)


async def test_hour_bars_start_at_the_open_and_end_with_a_half_hour() -> None:
    bars = await simulator(FRIDAY_CLOSE).fetch_bars("AAPL", Interval.ONE_HOUR)
    last_day = by_new_york_day(bars)[date(2026, 3, 13)]
    starts = [bar.timestamp.astimezone(NEW_YORK).strftime("%H:%M") for bar in last_day]
    assert starts == ["09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30"]


async def test_since_limits_how_far_back_minute_bars_go() -> None:
    since = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
    bars = await simulator().fetch_bars("AAPL", Interval.FIFTEEN_MINUTES, since=since)
    assert bars[0].timestamp == since


async def test_no_session_has_minute_bars_on_a_holiday() -> None:
    good_friday = datetime(2026, 4, 3, 16, 0, tzinfo=UTC)
    bars = await simulator(good_friday).fetch_bars("AAPL", Interval.THIRTY_MINUTES)
    assert date(2026, 4, 3) not in by_new_york_day(bars)
    assert max(by_new_york_day(bars)) == date(2026, 4, 2)


# The clock


async def test_no_bar_lies_after_the_clock(daily: list[Bar], minutes: list[Bar]) -> None:
    assert max(bar.timestamp for bar in daily + minutes) <= IN_SESSION
    assert minutes[-1].timestamp == IN_SESSION.replace(second=0)


async def test_the_running_session_has_partial_bars_up_to_the_clock(
    daily: list[Bar], minutes: list[Bar]
) -> None:
    today = by_new_york_day(minutes)[date(2026, 3, 11)]
    assert len(today) == 98  # 09:30 through 11:07
    assert ohlcv(daily[-1]) == daily_bar_of(today)


async def test_bars_of_the_running_session_grow_with_the_clock() -> None:
    clock = Clock(IN_SESSION)
    market = MarketSimulator(seed=42, clock=clock)
    before = await market.fetch_bars("AAPL", Interval.ONE_MINUTE)
    clock.now = IN_SESSION + timedelta(minutes=10)
    after = await market.fetch_bars("AAPL", Interval.ONE_MINUTE)
    assert after[: len(before) - 1] == before[:-1]
    assert len(after) == len(before) + 10


async def test_before_the_open_the_last_bar_is_the_previous_session() -> None:
    daily = await simulator(BEFORE_OPEN).fetch_bars("AAPL", Interval.DAILY)
    minutes = await simulator(BEFORE_OPEN).fetch_bars("AAPL", Interval.ONE_MINUTE)
    assert daily[-1].timestamp == datetime(2026, 3, 10, tzinfo=UTC)
    assert max(by_new_york_day(minutes)) == date(2026, 3, 10)
    assert len(by_new_york_day(minutes)) == 30


# Quotes


async def test_quote_is_deterministic_for_a_fixed_clock() -> None:
    assert await simulator().fetch_quote("AAPL") == await simulator().fetch_quote("AAPL")


@pytest.mark.parametrize(
    ("symbol", "start"),
    [
        ("AAPL", IN_SESSION),
        ("F", IN_SESSION),
        ("AAPL", FRIDAY_CLOSE + timedelta(hours=3)),
        ("F", datetime(2026, 3, 14, 15, 0, tzinfo=UTC)),  # Saturday
    ],
)
async def test_quote_changes_every_second(symbol: str, start: datetime) -> None:
    prices = await prices_over(symbol, start, 30)
    assert all(a != b for a, b in itertools.pairwise(prices))


async def test_quote_in_session_is_the_close_of_the_running_minute(minutes: list[Bar]) -> None:
    quote = await simulator().fetch_quote("AAPL")
    assert quote.price == minutes[-1].close


async def test_quote_carries_the_running_session_and_the_previous_close(
    daily: list[Bar],
) -> None:
    quote = await simulator().fetch_quote("AAPL")
    today, yesterday = daily[-1], daily[-2]
    assert (quote.open, quote.high, quote.low, quote.volume) == (
        today.open,
        today.high,
        today.low,
        today.volume,
    )
    assert quote.previous_close == yesterday.close
    assert quote.change == pytest.approx(quote.price - yesterday.close)
    assert quote.change_percent == pytest.approx(100 * (quote.price / yesterday.close - 1))


async def test_quote_is_stamped_with_the_whole_second() -> None:
    quote = await simulator(IN_SESSION + timedelta(microseconds=654_321)).fetch_quote("AAPL")
    assert quote.timestamp == IN_SESSION
    assert quote.source == "simulator"


async def test_quote_at_the_close_is_the_close() -> None:
    market = simulator(FRIDAY_CLOSE)
    quote = await market.fetch_quote("AAPL")
    assert quote.price == (await market.fetch_bars("AAPL", Interval.DAILY))[-1].close


async def test_quote_after_hours_moves_quietly_toward_the_next_open() -> None:
    last_before = (await simulator(MONDAY_OPEN - timedelta(seconds=1)).fetch_quote("AAPL")).price
    opening = await simulator(MONDAY_OPEN).fetch_quote("AAPL")
    assert opening.price == opening.open
    assert last_before == pytest.approx(opening.open, rel=1e-3)


async def test_quote_after_hours_keeps_the_last_session() -> None:
    market = simulator(FRIDAY_CLOSE + timedelta(hours=30))
    quote = await market.fetch_quote("AAPL")
    friday = (await market.fetch_bars("AAPL", Interval.DAILY))[-1]
    assert friday.timestamp == datetime(2026, 3, 13, tzinfo=UTC)
    assert (quote.open, quote.high, quote.low, quote.volume) == (
        friday.open,
        friday.high,
        friday.low,
        friday.volume,
    )


# Symbols and intervals


async def test_unknown_symbol_has_no_bars() -> None:
    with pytest.raises(UnknownSymbol):
        await simulator().fetch_bars("NOPE", Interval.DAILY)


async def test_unknown_symbol_has_no_quote() -> None:
    with pytest.raises(UnknownSymbol):
        await simulator().fetch_quote("NOPE")


async def test_extra_symbols_are_simulated_and_searchable() -> None:
    market = simulator(extra_symbols=("nope",))
    quote = await market.fetch_quote("NOPE")
    assert quote.price > 0
    assert (await market.search("nope"))[0].symbol == "NOPE"


async def test_symbols_come_from_the_given_directory() -> None:
    market = simulator(directory=SymbolDirectory([]), extra_symbols=("ACME",))
    with pytest.raises(UnknownSymbol):
        await market.fetch_quote("AAPL")
    assert (await market.fetch_quote("ACME")).symbol == "ACME"


async def test_symbols_are_matched_in_any_case() -> None:
    assert (await simulator().fetch_quote("aapl")).symbol == "AAPL"


async def test_search_finds_a_company_by_name() -> None:
    assert (await simulator().search("Apple"))[0].symbol == "AAPL"


def test_intervals_are_daily_and_intraday_but_not_weekly() -> None:
    # MIN1 bars come from a stream's trades, never from a provider.
    assert simulator().intervals == frozenset(Interval) - {Interval.WEEKLY, Interval.MIN1}
    assert simulator().name == "simulator"


async def test_weekly_bars_are_refused() -> None:
    with pytest.raises(ValueError, match="weekly"):
        await simulator().fetch_bars("AAPL", Interval.WEEKLY)
