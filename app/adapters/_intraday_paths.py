"""Per-second simulated prices inside and between regular sessions, and minute bars on them.

A session path is a Brownian bridge from the day's open to its close (more volatile near the
open and the close, as real sessions are), stretched to touch exactly the day's high and low:
minute bars built on it therefore agree with the daily bar. An overnight path is a quieter
bridge from a close to the next open, so live quotes keep moving after hours and arrive
exactly at the next session's open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from app.adapters._price_paths import SESSION_MINUTES, Floats, generator
from domain.trading_calendar import SESSION_SECONDS

_INTRADAY_SHARE = 0.9  # session std as a share of the day's volatility (the rest is the gap)
_OVERNIGHT_SHARE = 0.25  # per-minute std after hours, vs. the session's average minute


def _u_shape(points: int, depth: float) -> Floats:
    """1 at mid-session rising to 1 + depth at the open and the close."""
    position = (np.arange(points, dtype=np.float64) + 0.5) / points
    return 1.0 + depth * (2.0 * position - 1.0) ** 2


_SECOND_STD = _u_shape(SESSION_SECONDS, 1.5)
_SECOND_STD /= math.sqrt(float(np.sum(_SECOND_STD**2)))
# Share of the session's variance elapsed by each second: the bridge's clock.
_VARIANCE_CLOCK = np.concatenate(([0.0], np.cumsum(_SECOND_STD**2)))
_VARIANCE_CLOCK[-1] = 1.0
_MINUTE_VOLUME = _u_shape(SESSION_MINUTES, 2.0)


@dataclass(frozen=True, slots=True)
class SessionDay:
    """The daily bar a session path is pinned to; hashable, it keys the caches."""

    seed: int
    symbol: str
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float
    volatility: float


@dataclass(frozen=True, slots=True, eq=False)
class MinuteArrays:
    """Consecutive bars of one session as columns, the first starting at the open."""

    open: Floats
    high: Floats
    low: Floats
    close: Floats
    volume: Floats

    def __len__(self) -> int:
        return len(self.open)

    def aggregate(self, width: int) -> MinuteArrays:
        """Bars of `width` minutes counted from the open; the last one may be shorter
        (15:30-16:00 for hours) or cut short by the clock."""
        if width == 1 or len(self) == 0:
            return self
        starts = np.arange(0, len(self), width)
        ends = np.minimum(starts + width, len(self)) - 1
        return MinuteArrays(
            open=self.open[starts],
            high=np.maximum.reduceat(self.high, starts),
            low=np.minimum.reduceat(self.low, starts),
            close=self.close[ends],
            volume=np.add.reduceat(self.volume, starts),
        )


@dataclass(frozen=True, slots=True, eq=False)
class SessionPath:
    """Prices at every second of a session (SESSION_SECONDS + 1 of them, open to close) and
    the cumulative share of the day's volume at every minute mark."""

    prices: Floats
    volume_share: Floats
    total_volume: float

    def volume_at(self, second: int) -> float:
        """Shares traded from the open through `second` (whole shares, never decreasing)."""
        if second >= SESSION_SECONDS:
            return self.total_volume
        minute, within = divmod(second, 60)
        low, high = self.volume_share[minute], self.volume_share[minute + 1]
        return float(math.floor(self.total_volume * (low + (high - low) * within / 60)))

    def minutes(self, upto: int) -> MinuteArrays:
        """Minute bars from the open through second `upto` (0..SESSION_SECONDS); while the
        session runs the last bar is the one in progress, cut at `upto`."""
        upto = min(upto, SESSION_SECONDS)
        full = upto // 60
        prices = self.prices
        body = prices[: 60 * full].reshape(full, 60)
        closes = prices[60 : 60 * full + 1 : 60]
        marks = np.floor(self.total_volume * self.volume_share[: full + 1])
        columns = [
            body[:, 0],
            np.maximum(body.max(axis=1), closes),
            np.minimum(body.min(axis=1), closes),
            closes,
            np.diff(marks),
        ]
        if upto < SESSION_SECONDS:
            part = prices[60 * full : upto + 1]
            last = (part[0], part.max(), part.min(), part[-1], self.volume_at(upto) - marks[-1])
            columns = [
                np.append(column, value) for column, value in zip(columns, last, strict=True)
            ]
        return MinuteArrays(*columns)


@lru_cache(maxsize=64)
def session_path(day: SessionDay) -> SessionPath:
    """The session path of `day`, kept (~190 kB each) for the running sessions of the
    symbols quoted every second."""
    return _build_session(day)


@lru_cache(maxsize=1024)
def session_minutes(day: SessionDay) -> MinuteArrays:
    """All minute bars of a finished session (built without filling the path cache)."""
    return _build_session(day).minutes(SESSION_SECONDS)


def _build_session(day: SessionDay) -> SessionPath:
    rng = generator(day.seed, day.symbol, "session", day.day.isoformat())
    steps = rng.standard_normal(SESSION_SECONDS) * (_SECOND_STD * _INTRADAY_SHARE * day.volatility)
    walk = np.concatenate(([0.0], np.cumsum(steps)))
    start, end = math.log(day.open), math.log(day.close)
    path = start + _VARIANCE_CLOCK * (end - start) + (walk - _VARIANCE_CLOCK * walk[-1])
    path[0], path[-1] = start, end
    _stretch(path, max(start, end), math.log(day.high), upward=True)
    _stretch(path, min(start, end), math.log(day.low), upward=False)
    # exp(log(x)) may miss x by an ulp: pin the extremes and the ends to the daily bar.
    prices = np.clip(np.exp(path), day.low, day.high)
    prices[path.argmax()], prices[path.argmin()] = day.high, day.low
    prices[0], prices[-1] = day.open, day.close

    # More shares change hands near the open and the close, and in minutes that move.
    minute_moves = np.abs(np.diff(path[::60])) / (day.volatility / math.sqrt(SESSION_MINUTES))
    weights = _MINUTE_VOLUME * np.exp(0.4 * rng.standard_normal(SESSION_MINUTES))
    weights *= 1.0 + 0.5 * minute_moves
    share = np.concatenate(([0.0], np.cumsum(weights))) / float(np.sum(weights))
    share[-1] = 1.0
    return SessionPath(prices=prices, volume_share=share, total_volume=day.volume)


def _stretch(path: Floats, edge: float, target: float, *, upward: bool) -> None:
    """Map the part of `path` above (or below) `edge`, the open or the close, linearly so
    that its extreme becomes `target` exactly. Monotone: the extremes stay where they were."""
    beyond = path > edge if upward else path < edge
    interior = path[1:-1]
    if not beyond.any():
        # Rare: the bridge never left the open-close range on this side. A one-second
        # print at the extreme keeps the daily bar honest.
        position = 1 + int(interior.argmax() if upward else interior.argmin())
        path[position] = target
        return
    extreme = path.max() if upward else path.min()
    path[beyond] = edge + (path[beyond] - edge) * ((target - edge) / (extreme - edge))


@dataclass(frozen=True, slots=True)
class OvernightGap:
    """The time between the close of `day` and the next session's open; hashable."""

    seed: int
    symbol: str
    day: date
    start: float  # the close, listing currency
    end: float  # the next open
    minutes: int
    volatility: float  # of the day the gap follows


@lru_cache(maxsize=64)
def _overnight_marks(gap: OvernightGap) -> Floats:
    """Log prices at each minute of the gap: a bridge from the close to the next open."""
    rng = generator(gap.seed, gap.symbol, "overnight", gap.day.isoformat())
    steps = rng.standard_normal(gap.minutes) * _overnight_minute_std(gap)
    walk = np.concatenate(([0.0], np.cumsum(steps)))
    share = np.arange(gap.minutes + 1, dtype=np.float64) / gap.minutes
    start, end = math.log(gap.start), math.log(gap.end)
    marks: Floats = start + share * (end - start) + (walk - share * walk[-1])
    return marks


def overnight_price(gap: OvernightGap, elapsed: int) -> float:
    """The price `elapsed` seconds after the close (0 gives the close itself)."""
    if elapsed <= 0:
        return gap.start
    elapsed = min(elapsed, gap.minutes * 60 - 1)
    marks = _overnight_marks(gap)
    minute, second = divmod(elapsed, 60)
    value = float(marks[minute])
    if second:
        # Within a minute, a small bridge of its own: a fresh draw per minute keeps each
        # quote cheap without storing a day of seconds.
        rng = generator(gap.seed, gap.symbol, "overnight", gap.day.isoformat(), minute)
        steps = rng.standard_normal(60) * (_overnight_minute_std(gap) / math.sqrt(60))
        walk = np.cumsum(steps)
        share = second / 60
        value += share * (float(marks[minute + 1]) - value)
        value += float(walk[second - 1]) - share * float(walk[-1])
    return math.exp(value)


def _overnight_minute_std(gap: OvernightGap) -> float:
    return _OVERNIGHT_SHARE * gap.volatility / math.sqrt(SESSION_MINUTES)
