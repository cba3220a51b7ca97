"""Synthetic daily price series for the signal tests: random walks on weekdays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from domain.signals.prices import PriceSeries

START = datetime(2010, 1, 4, tzinfo=UTC)


def weekdays(count: int, start: datetime = START) -> tuple[datetime, ...]:
    days: list[datetime] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def random_walk(
    count: int, *, seed: int, start: datetime = START, volume: bool = True
) -> PriceSeries:
    """Closes whose daily volatility switches between calm (0.6%) and wild (2.5%) regimes,
    with a small drift; volumes rise with the size of the move."""
    rng = np.random.default_rng(seed)
    regime = np.repeat(rng.integers(0, 2, size=count // 60 + 1), 60)[:count]
    sigma = np.where(regime == 1, 0.025, 0.006)
    returns = rng.normal(0.0003, sigma)
    close = 50.0 * np.exp(np.cumsum(returns))
    volumes = 1e6 * (1.0 + 40.0 * np.abs(returns)) * rng.uniform(0.8, 1.2, size=count)
    return PriceSeries(
        timestamps=weekdays(count, start), close=close, volume=volumes if volume else None
    )


def series_of(close: list[float] | np.ndarray) -> PriceSeries:
    values = np.asarray(close, dtype=np.float64)
    return PriceSeries(timestamps=weekdays(len(values)), close=values)
