from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.trading_calendar import (
    TradingDayIndex,
    easter_sunday,
    holidays,
    is_trading_day,
    next_trading_day,
    previous_trading_day,
    session_close,
    session_open,
    trading_days,
)

# Published NYSE holiday schedules (observed dates).
NYSE_HOLIDAYS = {
    2024: {
        date(2024, 1, 1),
        date(2024, 1, 15),
        date(2024, 2, 19),
        date(2024, 3, 29),
        date(2024, 5, 27),
        date(2024, 6, 19),
        date(2024, 7, 4),
        date(2024, 9, 2),
        date(2024, 11, 28),
        date(2024, 12, 25),
    },
    2025: {
        date(2025, 1, 1),
        date(2025, 1, 9),  # national day of mourning for President Carter
        date(2025, 1, 20),
        date(2025, 2, 17),
        date(2025, 4, 18),
        date(2025, 5, 26),
        date(2025, 6, 19),
        date(2025, 7, 4),
        date(2025, 9, 1),
        date(2025, 11, 27),
        date(2025, 12, 25),
    },
    2026: {
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 4, 3),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2026, 12, 25),
    },
}


@pytest.mark.parametrize("year", sorted(NYSE_HOLIDAYS))
def test_holidays_match_the_published_nyse_schedule(year: int) -> None:
    assert holidays(year) == NYSE_HOLIDAYS[year]


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5))],
)
def test_easter_sunday_is_computed_for_the_gregorian_calendar(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


def test_good_friday_2025_is_closed() -> None:
    assert not is_trading_day(date(2025, 4, 18))


def test_juneteenth_is_closed_since_2022_only() -> None:
    assert not is_trading_day(date(2025, 6, 19))
    assert is_trading_day(date(2021, 6, 18))  # a Friday, before the holiday existed


def test_july_4_on_a_saturday_is_observed_on_the_friday_before() -> None:
    assert not is_trading_day(date(2026, 7, 3))
    assert is_trading_day(date(2026, 7, 6))


def test_christmas_on_a_sunday_is_observed_on_the_monday_after() -> None:
    assert not is_trading_day(date(2022, 12, 26))


def test_new_year_on_a_saturday_leaves_the_friday_before_open() -> None:
    assert is_trading_day(date(2021, 12, 31))
    assert date(2022, 1, 1) not in holidays(2022)


def test_weekends_are_not_trading_days() -> None:
    assert not is_trading_day(date(2025, 6, 14))
    assert not is_trading_day(date(2025, 6, 15))


def test_next_trading_day_skips_weekends_and_holidays() -> None:
    assert next_trading_day(date(2025, 4, 17)) == date(2025, 4, 21)


def test_previous_trading_day_skips_weekends_and_holidays() -> None:
    assert previous_trading_day(date(2025, 1, 2)) == date(2024, 12, 31)


def test_trading_days_are_inclusive_and_exclude_closures() -> None:
    assert trading_days(date(2025, 12, 22), date(2025, 12, 29)) == [
        date(2025, 12, 22),
        date(2025, 12, 23),
        date(2025, 12, 24),
        date(2025, 12, 26),
        date(2025, 12, 29),
    ]


def test_2025_has_250_trading_days() -> None:
    # 261 weekdays less 11 closures (10 holidays and the day of mourning).
    assert len(trading_days(date(2025, 1, 1), date(2025, 12, 31))) == 250


def test_session_follows_new_york_daylight_saving_time() -> None:
    assert session_open(date(2025, 1, 6)) == datetime(2025, 1, 6, 14, 30, tzinfo=UTC)
    assert session_open(date(2025, 7, 7)) == datetime(2025, 7, 7, 13, 30, tzinfo=UTC)
    assert session_close(date(2025, 7, 7)) == datetime(2025, 7, 7, 20, 0, tzinfo=UTC)


def test_trading_day_index_numbers_days_from_the_epoch() -> None:
    index = TradingDayIndex(date(2025, 1, 2))
    assert index.day(0) == date(2025, 1, 2)
    assert index.day(2) == date(2025, 1, 6)
    assert index.index(date(2025, 1, 6)) == 2


def test_trading_day_index_maps_a_closed_day_to_the_trading_day_before() -> None:
    index = TradingDayIndex(date(2025, 1, 2))
    assert index.index(date(2025, 1, 5)) == 1
    assert index.first_on_or_after(date(2025, 1, 5)) == 2


def test_trading_day_index_refuses_a_closed_epoch() -> None:
    with pytest.raises(ValueError, match="not a trading day"):
        TradingDayIndex(date(2025, 1, 1))
