"""The NYSE calendar: trading days (Monday-Friday minus exchange holidays) and the regular
session, 09:30-16:00 America/New_York.

Holidays follow the NYSE rules valid since 1998 (when MLK Day was added): a holiday on a
Saturday is observed on the Friday before, on a Sunday on the Monday after, except New Year's
Day on a Saturday, which is not observed at all (the Friday before closes a year). Early
closes (13:00 on some holiday eves) are not modelled: every session is a full one.
"""

from __future__ import annotations

import bisect
import threading
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
SESSION_SECONDS = 6 * 3600 + 30 * 60

# Unscheduled closures (national days of mourning, storms): no rule predicts them.
_SPECIAL_CLOSURES = frozenset(
    {
        date(2001, 9, 11),
        date(2001, 9, 12),
        date(2001, 9, 13),
        date(2001, 9, 14),
        date(2004, 6, 11),
        date(2007, 1, 2),
        date(2012, 10, 29),
        date(2012, 10, 30),
        date(2018, 12, 5),
        date(2025, 1, 9),
    }
)
_MONDAY, _THURSDAY, _SATURDAY, _SUNDAY = 0, 3, 5, 6


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday, by the anonymous Gregorian algorithm."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=128)
def holidays(year: int) -> frozenset[date]:
    """Weekdays of `year` on which the NYSE is closed (observed dates, special closures too)."""
    days = {
        _nth_weekday(year, 1, _MONDAY, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, _MONDAY, 3),  # Washington's Birthday
        easter_sunday(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, _MONDAY),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, _MONDAY, 1),  # Labor Day
        _nth_weekday(year, 11, _THURSDAY, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth
    days.update(day for day in _SPECIAL_CLOSURES if day.year == year)
    return frozenset(days)


def is_trading_day(day: date) -> bool:
    return day.weekday() < _SATURDAY and day not in holidays(day.year)


def next_trading_day(day: date) -> date:
    """The first trading day strictly after `day`."""
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def previous_trading_day(day: date) -> date:
    """The last trading day strictly before `day`."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def trading_days(start: date, end: date) -> list[date]:
    """Trading days with start <= day <= end, oldest first (empty when start > end)."""
    days = []
    day = start
    while day <= end:
        if is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


class TradingDayIndex:
    """Trading days numbered from `epoch` (day 0), extended forward on demand. Thread-safe."""

    def __init__(self, epoch: date) -> None:
        if not is_trading_day(epoch):
            raise ValueError(f"{epoch} is not a trading day")
        self._days = [epoch]
        self._lock = threading.Lock()

    @property
    def epoch(self) -> date:
        return self._days[0]

    def day(self, index: int) -> date:
        """Trading day number `index` (>= 0)."""
        return self.days(index, index + 1)[0]

    def days(self, start: int, stop: int) -> list[date]:
        """Trading days numbered start..stop-1."""
        with self._lock:
            while len(self._days) < stop:
                self._days.append(next_trading_day(self._days[-1]))
            return self._days[start:stop]

    def index(self, day: date) -> int:
        """Number of `day`, or of the last trading day before it when it is not one;
        -1 before the epoch."""
        with self._lock:
            while self._days[-1] < day:
                self._days.append(next_trading_day(self._days[-1]))
            return bisect.bisect_right(self._days, day) - 1

    def first_on_or_after(self, day: date) -> int:
        """Number of the first trading day on or after `day` (0 before the epoch)."""
        index = self.index(day)
        return index if index >= 0 and self._days[index] == day else index + 1


def session_open(day: date) -> datetime:
    """09:30 New York time on `day`, in UTC."""
    return datetime.combine(day, SESSION_OPEN, tzinfo=NEW_YORK).astimezone(UTC)


def session_close(day: date) -> datetime:
    """16:00 New York time on `day`, in UTC."""
    return datetime.combine(day, SESSION_CLOSE, tzinfo=NEW_YORK).astimezone(UTC)


def new_york_date(instant: datetime) -> date:
    """The calendar date in New York at an aware instant."""
    return instant.astimezone(NEW_YORK).date()


def _observed(holiday: date) -> date:
    if holiday.weekday() == _SATURDAY:
        return holiday - timedelta(days=1)
    if holiday.weekday() == _SUNDAY:
        return holiday + timedelta(days=1)
    return holiday


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    after = date(year + month // 12, month % 12 + 1, 1)
    last = after - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)
