"""The indicator lines signals read, computed once over a whole series with domain.indicators.

Each line is causal (its value at t depends on closes up to t only), so one pass over the full
series serves every point: the rules at t, the features at t and the snapshot at t.
Lines are NaN during their warm-up, including the whole line when the series is shorter than
the window (domain.indicators would refuse it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from domain import indicators
from domain.signals.prices import FloatArray
from domain.signals.recommendations import IndicatorSnapshot

SMA_FAST = 50
SMA_SLOW = 200
EMA_FAST = 12
EMA_SLOW = 26
RSI_WINDOW = 14
MACD_SIGNAL = 9
BOLLINGER_WINDOW = 20
BOLLINGER_DEVIATIONS = 2.0

# Index of the first value of each line, from domain.indicators' documented warm-ups.
FIRST_INDEX = {
    "sma50": SMA_FAST - 1,
    "sma200": SMA_SLOW - 1,
    "ema12": EMA_FAST - 1,
    "ema26": EMA_SLOW - 1,
    "rsi14": RSI_WINDOW,
    "macd": EMA_SLOW + MACD_SIGNAL - 2,
    "bollinger": BOLLINGER_WINDOW - 1,
}


@dataclass(frozen=True, slots=True, eq=False)
class Technicals:
    """Indicator lines aligned with the closes; price units except `rsi14` (0-100 points)."""

    sma50: FloatArray
    sma200: FloatArray
    ema12: FloatArray
    ema26: FloatArray
    rsi14: FloatArray
    macd: FloatArray
    macd_signal: FloatArray
    macd_histogram: FloatArray
    bollinger_upper: FloatArray
    bollinger_lower: FloatArray

    @classmethod
    def of(cls, close: FloatArray) -> Technicals:
        """All lines over `close` (finite prices, oldest first); any length, even 0."""
        n = len(close)
        lines = indicators.macd(close, EMA_FAST, EMA_SLOW, MACD_SIGNAL) if n >= EMA_SLOW else None
        bands = (
            indicators.bollinger(close, BOLLINGER_WINDOW, BOLLINGER_DEVIATIONS)
            if n >= BOLLINGER_WINDOW
            else None
        )
        return cls(
            sma50=_line(indicators.sma, close, SMA_FAST),
            sma200=_line(indicators.sma, close, SMA_SLOW),
            ema12=_line(indicators.ema, close, EMA_FAST),
            ema26=_line(indicators.ema, close, EMA_SLOW),
            rsi14=_line(indicators.rsi, close, RSI_WINDOW),
            macd=_empty(n) if lines is None else lines.macd,
            macd_signal=_empty(n) if lines is None else lines.signal,
            macd_histogram=_empty(n) if lines is None else lines.histogram,
            bollinger_upper=_empty(n) if bands is None else bands.upper,
            bollinger_lower=_empty(n) if bands is None else bands.lower,
        )

    def snapshot(self, index: int) -> IndicatorSnapshot:
        """The values at `index` (negative counts from the end), None during warm-up."""
        return IndicatorSnapshot(
            sma50=_value(self.sma50, index),
            sma200=_value(self.sma200, index),
            ema12=_value(self.ema12, index),
            ema26=_value(self.ema26, index),
            rsi14=_value(self.rsi14, index),
            macd=_value(self.macd, index),
            macd_signal=_value(self.macd_signal, index),
            macd_histogram=_value(self.macd_histogram, index),
        )


def _line(
    indicator: Callable[[FloatArray, int], FloatArray], close: FloatArray, window: int
) -> FloatArray:
    # RSI needs `window` changes, i.e. window + 1 closes, before its first value, but TA-Lib
    # accepts window closes and returns all NaN: either way the line is NaN when too short.
    return indicator(close, window) if len(close) >= window else _empty(len(close))


def _empty(n: int) -> FloatArray:
    return np.full(n, np.nan, dtype=np.float64)


def _value(line: FloatArray, index: int) -> float | None:
    value = float(line[index])
    return None if math.isnan(value) else value
