"""Technical indicators over closing prices, computed with TA-Lib.

Every indicator takes closes oldest first (a 1-D float64 array of finite prices) and returns
arrays of the same length, NaN where there is not yet enough history (the warm-up). A value at
index t depends only on closes[0..t], so callers compute over all stored history and keep the
points they need: the history before a requested range is the warm-up of that range.
Closes that are not 1-D or not finite raise ValueError (bad data, not bad user input).

The warm-ups documented below assume TA-Lib's process-global defaults: no unstable period
(talib.set_unstable_period) and the default compatibility mode.

TA-Lib is imported by the function that uses it, not at start: importing it imports pandas
(~45 MiB of a process's RSS), which a server that only streams prices never needs.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from datetime import datetime
from itertools import compress
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from domain.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]

MIN_WINDOW = 2
MAX_WINDOW = 1000
MAX_DEVIATIONS = 10.0


class MacdLines(NamedTuple):
    """MACD line, signal line and histogram, in price units; same warm-up for all three."""

    macd: FloatArray
    signal: FloatArray
    histogram: FloatArray


class BollingerBands(NamedTuple):
    """Upper band, middle band (the SMA) and lower band, in price units."""

    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


def load_library() -> None:
    """Import TA-Lib (and pandas) now. The worker computes indicators from its first ticks:
    it pays their memory at start, so its RSS stays flat afterwards instead of jumping by
    ~45 MiB at its first indicator."""
    importlib.import_module("talib")


def sma(close: FloatArray, window: int) -> FloatArray:
    """Simple moving average of the last `window` closes, in price units.

    Warm-up: the first value is at index `window - 1`. Raises InvalidInput (field "window")
    unless 2 <= window <= MAX_WINDOW and window <= len(close).
    """
    prices = _prices(close)
    _check_window(window, "window", len(prices))
    import talib

    return talib.SMA(prices, timeperiod=window)


def ema(close: FloatArray, window: int) -> FloatArray:
    """Exponential moving average with alpha = 2 / (window + 1), in price units.

    Seeded with the SMA of the first `window` closes, so the first value is at index
    `window - 1`. Every later value keeps a fading weight of all earlier closes: over a short
    history the first values still reflect the seed. Raises InvalidInput (field "window")
    unless 2 <= window <= MAX_WINDOW and window <= len(close).
    """
    prices = _prices(close)
    _check_window(window, "window", len(prices))
    import talib

    return talib.EMA(prices, timeperiod=window)


def rsi(close: FloatArray, window: int) -> FloatArray:
    """Relative strength index on a 0-100 scale (points, not a fraction), Wilder smoothing.

    The averages of gains and losses are seeded with the simple means of the first `window`
    close-to-close changes, then avg = (avg * (window - 1) + change) / window. The first value
    is at index `window` (it needs `window` changes). Only gains give 100, only losses 0, and
    no movement at all also gives 0 (TA-Lib's convention). Raises InvalidInput (field
    "window") unless 2 <= window <= MAX_WINDOW and window <= len(close).
    """
    prices = _prices(close)
    _check_window(window, "window", len(prices))
    import talib

    return talib.RSI(prices, timeperiod=window)


def macd(close: FloatArray, fast: int, slow: int, signal: int) -> MacdLines:
    """MACD = EMA(fast) - EMA(slow); signal = EMA(signal) of MACD; histogram = MACD - signal.

    As in TA-Lib, both EMAs start at index `slow - 1` and the fast one is seeded there with
    the SMA of the `fast` closes ending at that index, so its first values differ from
    `ema(close, fast)` (the gap shrinks by a factor 1 - 2 / (fast + 1) per close). All three
    lines start at index `slow + signal - 2` (33 for 12/26/9): TA-Lib withholds the MACD
    line until its signal exists. Raises InvalidInput (field "fast", "slow" or "signal")
    unless each is 2..MAX_WINDOW and at most len(close), and fast < slow.
    """
    prices = _prices(close)
    for value, field in ((fast, "fast"), (slow, "slow"), (signal, "signal")):
        _check_window_range(value, field)
    if fast >= slow:
        raise InvalidInput(f"fast ({fast}) must be less than slow ({slow})", field="fast")
    for value, field in ((fast, "fast"), (slow, "slow"), (signal, "signal")):
        _check_window_fits(value, field, len(prices))
    import talib

    lines = talib.MACD(prices, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return MacdLines(*lines)


def bollinger(close: FloatArray, window: int, deviations: float) -> BollingerBands:
    """Bollinger bands: SMA(window) +/- `deviations` population standard deviations.

    The standard deviation is of the same `window` closes and divides by `window`, not
    `window - 1`. The first value is at index `window - 1`. Raises InvalidInput (field
    "window") as `sma` does, and (field "deviations") unless 0 < deviations <= MAX_DEVIATIONS.
    """
    prices = _prices(close)
    _check_window(window, "window", len(prices))
    if (
        isinstance(deviations, bool)
        or not isinstance(deviations, int | float)
        or not math.isfinite(deviations)
        or not 0 < deviations <= MAX_DEVIATIONS
    ):
        raise InvalidInput(
            f"deviations must be above 0 and at most {MAX_DEVIATIONS:g}", field="deviations"
        )
    # BBANDS' default middle band (matype) is the SMA; its stub and runtime disagree on the
    # type of MA_Type, so the default is relied on rather than spelled out.
    import talib

    bands = talib.BBANDS(prices, timeperiod=window, nbdevup=deviations, nbdevdn=deviations)
    return BollingerBands(*bands)


def valid_points(
    timestamps: Sequence[datetime], values: FloatArray
) -> list[tuple[datetime, float]]:
    """(timestamp, value) pairs without the NaN warm-up, values as Python floats.

    Raises ValueError when the lengths differ.
    """
    _check_lengths(timestamps, values)
    keep = ~np.isnan(values)
    return list(zip(compress(timestamps, keep.tolist()), values[keep].tolist(), strict=True))


def valid_triples(
    timestamps: Sequence[datetime], lines: tuple[FloatArray, FloatArray, FloatArray]
) -> list[tuple[datetime, float, float, float]]:
    """(timestamp, a, b, c) rows of three aligned lines, e.g. `MacdLines` or `BollingerBands`,
    without the rows where any line is NaN; values as Python floats.

    Raises ValueError when the lengths differ.
    """
    first, second, third = lines
    for values in lines:
        _check_lengths(timestamps, values)
    keep = ~(np.isnan(first) | np.isnan(second) | np.isnan(third))
    return list(
        zip(
            compress(timestamps, keep.tolist()),
            first[keep].tolist(),
            second[keep].tolist(),
            third[keep].tolist(),
            strict=True,
        )
    )


def _prices(close: FloatArray) -> FloatArray:
    # TA-Lib needs contiguous float64; this copies only when the input is not already that.
    prices = np.ascontiguousarray(close, dtype=np.float64)
    if prices.ndim != 1:
        raise ValueError(f"closes must be one-dimensional, not {prices.ndim}-dimensional")
    # A NaN inside the data would silently turn every later EMA and RSI value into NaN.
    if not np.isfinite(prices).all():
        raise ValueError("closes must be finite numbers")
    return prices


def _check_window(value: int, field: str, points: int) -> None:
    _check_window_range(value, field)
    _check_window_fits(value, field, points)


def _check_window_range(value: int, field: str) -> None:
    # bool is an int subclass; True would otherwise pass as a window of 1.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(f"{field} must be an integer", field=field)
    if not MIN_WINDOW <= value <= MAX_WINDOW:
        raise InvalidInput(
            f"{field} must be between {MIN_WINDOW} and {MAX_WINDOW}, not {value}", field=field
        )


class WindowLongerThanHistory(InvalidInput):
    """A window (or period) needs more data points than the history has: the indicator has
    no value anywhere, which is a fact about the data rather than a bad argument."""


def _check_window_fits(value: int, field: str, points: int) -> None:
    if value > points:
        raise WindowLongerThanHistory(
            f"{field} {value} is longer than the history: there are {points} data points",
            field=field,
        )


def _check_lengths(timestamps: Sequence[datetime], values: FloatArray) -> None:
    if len(timestamps) != len(values):
        raise ValueError(f"{len(timestamps)} timestamps for {len(values)} values")
