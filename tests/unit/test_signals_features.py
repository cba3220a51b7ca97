from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from domain import indicators
from domain.errors import InvalidInput
from domain.signals.features import FeatureSet
from domain.signals.prices import InsufficientData, PriceSeries
from domain.signals.rules import rules_signal
from tests.support.price_walks import random_walk

SERIES = random_walk(400, seed=5)
WITH_VOLUME = FeatureSet(volume=True)


def column(features: FeatureSet, name: str) -> int:
    return features.names.index(name)


def hand_features(series: PriceSeries, t: int) -> dict[str, float]:
    """Every feature at t from the closes and volumes up to t, computed without the module."""
    close, volume = series.close[: t + 1], series.volume
    assert volume is not None
    returns = close[1:] / close[:-1] - 1
    sma50, sma200 = close[-50:].mean(), close[-200:].mean()
    window = close[-20:]
    upper, lower = window.mean() + 2 * window.std(), window.mean() - 2 * window.std()
    lines = indicators.macd(close, 12, 26, 9)
    volumes = volume[t - 19 : t + 1]
    return {
        "close_sma50": close[-1] / sma50 - 1,
        "close_sma200": close[-1] / sma200 - 1,
        "sma50_sma200": sma50 / sma200 - 1,
        "rsi14": indicators.rsi(close, 14)[-1],
        "macd_price": lines.macd[-1] / close[-1],
        "macd_histogram_price": lines.histogram[-1] / close[-1],
        "bollinger_b": (close[-1] - lower) / (upper - lower),
        "return_1d": close[-1] / close[-2] - 1,
        "return_5d": close[-1] / close[-6] - 1,
        "return_10d": close[-1] / close[-11] - 1,
        "return_20d": close[-1] / close[-21] - 1,
        "volatility_20d": returns[-20:].std(ddof=1),
        "volatility_60d": returns[-60:].std(ddof=1),
        "volume_zscore_20d": (volume[t] - volumes.mean()) / volumes.std(ddof=1),
        "volume_ratio_20d": volume[t] / volumes.mean() - 1,
    }


@pytest.mark.parametrize("t", [199, 250, 399])
def test_row_t_equals_a_hand_computation_from_data_up_to_t(t: int) -> None:
    row = WITH_VOLUME.compute(SERIES)[t]

    expected = hand_features(SERIES, t)
    assert list(expected) == WITH_VOLUME.names
    assert row == pytest.approx([expected[name] for name in WITH_VOLUME.names], rel=1e-9)


def test_rows_before_the_required_history_are_empty_and_the_first_full_row_is_complete() -> None:
    required = WITH_VOLUME.required_history()
    matrix = WITH_VOLUME.compute(SERIES)

    assert required == 200
    assert np.isnan(matrix[: required - 1]).all()
    assert np.isfinite(matrix[required - 1 :]).all()


def test_one_point_short_of_the_required_history_is_insufficient() -> None:
    features = FeatureSet()

    with pytest.raises(InsufficientData) as caught:
        features.last_row(SERIES.head(199))

    assert (caught.value.required, caught.value.available) == (200, 199)
    assert np.isfinite(features.last_row(SERIES.head(200))).all()


def altered_after(series: PriceSeries, t: int, seed: int) -> PriceSeries:
    """The same series up to t; every later close and volume changed at random."""
    rng = np.random.default_rng(seed)
    close, volume = series.close.copy(), series.volume
    assert volume is not None
    close[t + 1 :] *= rng.uniform(0.5, 2.0, size=len(close) - t - 1)
    volume = volume.copy()
    volume[t + 1 :] *= rng.uniform(0.1, 10.0, size=len(close) - t - 1)
    return PriceSeries(timestamps=series.timestamps, close=close, volume=volume)


@pytest.mark.parametrize("t", [199, 230, 300, 398])
def test_data_after_t_never_changes_the_features_at_t(t: int) -> None:
    full = WITH_VOLUME.compute(SERIES)[t]

    cut = WITH_VOLUME.compute(SERIES.head(t + 1))[t]
    altered = [WITH_VOLUME.compute(altered_after(SERIES, t, seed))[t] for seed in range(3)]

    assert_array_equal(cut, full)
    for row in altered:
        assert_array_equal(row, full)


@pytest.mark.parametrize("t", [40, 199, 300])
def test_data_after_t_never_changes_the_rules_at_t(t: int) -> None:
    expected = rules_signal(SERIES.head(t + 1), horizon_days=5)

    altered = rules_signal(altered_after(SERIES, t, seed=1).head(t + 1), horizon_days=5)

    assert altered == expected


def test_close_only_points_give_the_default_features() -> None:
    points = [
        (date(2015, 1, 1) + timedelta(days=i), float(c)) for i, c in enumerate(SERIES.close[:250])
    ]
    series = PriceSeries.from_points(points)

    row = FeatureSet().last_row(series)

    assert row == pytest.approx(FeatureSet().compute(SERIES)[249], rel=1e-12)


def test_volume_features_refuse_a_series_without_volume() -> None:
    with pytest.raises(InvalidInput) as caught:
        WITH_VOLUME.compute(SERIES.without_volume())

    assert caught.value.field == "data"


def test_flat_prices_sit_in_the_middle_of_the_band_and_constant_volume_scores_zero() -> None:
    flat = PriceSeries(
        timestamps=SERIES.timestamps[:250], close=np.full(250, 20.0), volume=np.full(250, 5.0)
    )

    row = WITH_VOLUME.last_row(flat)

    assert row[column(WITH_VOLUME, "bollinger_b")] == 0.5
    assert row[column(WITH_VOLUME, "volume_zscore_20d")] == 0.0
    assert row[column(WITH_VOLUME, "volatility_20d")] == 0.0
