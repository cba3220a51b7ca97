"""Trailing-window statistics: the value at t uses the `window` values ending at t (causal);
NaN until a full window exists."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from domain.signals.prices import FloatArray


def rolling_mean(values: FloatArray, window: int) -> FloatArray:
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        out[window - 1 :] = sliding_window_view(values, window).mean(axis=1)
    return out


def rolling_std(values: FloatArray, window: int) -> FloatArray:
    """Sample standard deviation (divides by window - 1) over the trailing window."""
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        out[window - 1 :] = sliding_window_view(values, window).std(axis=1, ddof=1)
    return out


def daily_returns(close: FloatArray) -> FloatArray:
    """close[t] / close[t-1] - 1 as fractions; NaN at index 0."""
    out = np.full(len(close), np.nan)
    out[1:] = close[1:] / close[:-1] - 1.0
    return out


def return_volatility(close: FloatArray, window: int) -> FloatArray:
    """Standard deviation of the last `window` daily returns, a fraction per day; the first
    value is at index `window` (it needs window + 1 closes)."""
    returns = daily_returns(close)
    out = np.full(len(close), np.nan)
    out[1:] = rolling_std(returns[1:], window)
    return out
