from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from domain.errors import InvalidInput
from domain.indicators import (
    MAX_WINDOW,
    FloatArray,
    bollinger,
    ema,
    macd,
    rsi,
    sma,
    valid_points,
    valid_triples,
)

NAN = math.nan

# A random walk long enough for the default windows (MACD 12/26/9 starts at index 33).
WALK = 100.0 + np.cumsum(np.random.default_rng(7).normal(0.0, 1.5, size=300))
THIRTY = np.arange(1.0, 31.0)

Indicator = Callable[[FloatArray], FloatArray]


def closes(*values: float) -> FloatArray:
    return np.array(values, dtype=np.float64)


def stacked(lines: tuple[FloatArray, ...]) -> FloatArray:
    return np.stack(lines)


# Each indicator with its default parameters and the index of its first value.
INDICATORS = [
    pytest.param(lambda c: sma(c, 20), 19, id="sma"),
    pytest.param(lambda c: ema(c, 20), 19, id="ema"),
    pytest.param(lambda c: rsi(c, 14), 14, id="rsi"),
    pytest.param(lambda c: stacked(macd(c, 12, 26, 9)), 33, id="macd"),
    pytest.param(lambda c: stacked(bollinger(c, 20, 2.0)), 19, id="bollinger"),
]


def test_sma_averages_the_last_window_closes() -> None:
    # (1 + 2 + 4) / 3, (2 + 4 + 8) / 3, (4 + 8 + 16) / 3
    result = sma(closes(1, 2, 4, 8, 16), 3)

    assert_allclose(result, [NAN, NAN, 7 / 3, 14 / 3, 28 / 3])


def test_ema_is_seeded_with_the_sma_then_smoothed_with_two_over_window_plus_one() -> None:
    # alpha = 2 / (3 + 1) = 0.5; seed at index 2: (2 + 4 + 6) / 3 = 4
    # 4 + 0.5 * (8 - 4) = 6;  6 + 0.5 * (12 - 6) = 9;  9 + 0.5 * (10 - 9) = 9.5
    result = ema(closes(2, 4, 6, 8, 12, 10), 3)

    assert_allclose(result, [NAN, NAN, 4, 6, 9, 9.5])


def test_rsi_uses_wilder_averages_of_gains_and_losses() -> None:
    # changes: +1, -2, +3 | +1, -2, +3
    # seed (index 3): gain (1 + 0 + 3) / 3 = 4/3, loss (0 + 2 + 0) / 3 = 2/3 -> 100 * 4/3 / 2
    # index 4 (+1): gain (4/3 * 2 + 1) / 3 = 11/9,   loss (2/3 * 2) / 3 = 4/9     -> 100 * 11/15
    # index 5 (-2): gain (11/9 * 2) / 3 = 22/27,     loss (4/9 * 2 + 2) / 3 = 26/27 -> 100 * 22/48
    # index 6 (+3): gain (22/27 * 2 + 3) / 3 = 125/81, loss (26/27 * 2) / 3 = 52/81 -> 100 * 125/177
    result = rsi(closes(44, 45, 43, 46, 47, 45, 48), 3)

    assert_allclose(
        result, [NAN, NAN, NAN, 100 * 2 / 3, 100 * 11 / 15, 100 * 22 / 48, 100 * 125 / 177]
    )


def test_rsi_of_only_gains_is_100_and_of_only_losses_is_0() -> None:
    assert_allclose(rsi(closes(1, 2, 3, 4), 3), [NAN, NAN, NAN, 100])
    assert_allclose(rsi(closes(4, 3, 2, 1), 3), [NAN, NAN, NAN, 0])


def test_rsi_of_a_series_without_movement_is_0() -> None:
    assert_allclose(rsi(closes(5, 5, 5, 5), 3), [NAN, NAN, NAN, 0])


def test_macd_subtracts_emas_that_both_start_where_the_slow_one_is_seeded() -> None:
    # fast 2 (alpha 2/3), slow 3 (alpha 1/2), signal 2 (alpha 2/3); closes 10 12 11 13 15 14 16
    # slow EMA, seed at index 2 = (10 + 12 + 11) / 3 = 11, then 12, 13.5, 13.75, 119/8
    # fast EMA, seeded at index 2 too, from (12 + 11) / 2 = 11.5 (not from index 1):
    #   then 12.5, 85/6, 253/18, 829/54
    # MACD from index 2: 0.5, 0.5, 2/3, 11/36, 103/216
    # signal, seed at index 3 = (0.5 + 0.5) / 2 = 0.5, then 11/18, 11/27, 49/108
    lines = macd(closes(10, 12, 11, 13, 15, 14, 16), 2, 3, 2)

    assert_allclose(lines.macd, [NAN, NAN, NAN, 0.5, 2 / 3, 11 / 36, 103 / 216])
    assert_allclose(lines.signal, [NAN, NAN, NAN, 0.5, 11 / 18, 11 / 27, 49 / 108])
    assert_allclose(lines.histogram, [NAN, NAN, NAN, 0, 1 / 18, -11 / 108, 5 / 216])


def test_bollinger_bands_use_the_population_standard_deviation() -> None:
    # index 3: 1 1 3 3 -> mean 2, variance (1 + 1 + 1 + 1) / 4 = 1 (the sample one is 4/3)
    # index 4: 1 3 3 5 -> mean 3, variance (4 + 0 + 0 + 4) / 4 = 2
    bands = bollinger(closes(1, 1, 3, 3, 5), 4, 2.0)

    assert_allclose(bands.middle, [NAN, NAN, NAN, 2, 3])
    assert_allclose(bands.upper, [NAN, NAN, NAN, 2 + 2 * 1, 3 + 2 * math.sqrt(2)])
    assert_allclose(bands.lower, [NAN, NAN, NAN, 2 - 2 * 1, 3 - 2 * math.sqrt(2)])


@pytest.mark.parametrize(("indicator", "first"), INDICATORS)
def test_values_are_nan_exactly_during_the_warm_up(indicator: Indicator, first: int) -> None:
    result = np.atleast_2d(indicator(WALK))

    assert result.shape[-1] == len(WALK)
    assert np.isnan(result[:, :first]).all()
    assert not np.isnan(result[:, first:]).any()


@pytest.mark.parametrize(("indicator", "first"), INDICATORS)
@pytest.mark.parametrize("t", [40, 150, 298])
def test_changing_later_closes_never_changes_earlier_values(
    indicator: Indicator, first: int, t: int
) -> None:
    altered = WALK.copy()
    altered[t + 1 :] = altered[t + 1 :] * 1.5 + 10.0

    assert_array_equal(indicator(altered)[..., : t + 1], indicator(WALK)[..., : t + 1])


@pytest.mark.parametrize(("indicator", "first"), INDICATORS)
@pytest.mark.parametrize("t", [40, 150, 298])
def test_values_over_a_longer_history_sliced_equal_values_over_the_prefix(
    indicator: Indicator, first: int, t: int
) -> None:
    assert_array_equal(indicator(WALK)[..., : t + 1], indicator(WALK[: t + 1]))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: sma(THIRTY, 1), "window"),
        (lambda: ema(THIRTY, 0), "window"),
        (lambda: rsi(THIRTY, -5), "window"),
        (lambda: bollinger(THIRTY, 1, 2.0), "window"),
        (lambda: macd(THIRTY, 1, 26, 9), "fast"),
        (lambda: macd(THIRTY, 12, 1, 9), "slow"),
        (lambda: macd(THIRTY, 12, 26, 1), "signal"),
        (lambda: sma(WALK, MAX_WINDOW + 1), "window"),
        (lambda: ema(WALK, MAX_WINDOW + 1), "window"),
        (lambda: rsi(WALK, MAX_WINDOW + 1), "window"),
        (lambda: bollinger(WALK, MAX_WINDOW + 1, 2.0), "window"),
        (lambda: macd(WALK, 12, MAX_WINDOW + 1, 9), "slow"),
        (lambda: macd(WALK, 12, 26, MAX_WINDOW + 1), "signal"),
    ],
)
def test_windows_below_two_or_above_the_maximum_are_refused(
    call: Callable[[], object], field: str
) -> None:
    with pytest.raises(InvalidInput, match="between 2 and 1000") as raised:
        call()

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: sma(THIRTY, 3.0), "window"),  # type: ignore[arg-type]
        (lambda: rsi(THIRTY, True), "window"),
        (lambda: macd(THIRTY, 2.5, 26, 9), "fast"),  # type: ignore[arg-type]
    ],
)
def test_windows_that_are_not_integers_are_refused(call: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInput, match="must be an integer") as raised:
        call()

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: sma(THIRTY, 31), "window"),
        (lambda: ema(THIRTY, 31), "window"),
        (lambda: rsi(THIRTY, 31), "window"),
        (lambda: bollinger(THIRTY, 31, 2.0), "window"),
        (lambda: macd(THIRTY, 12, 31, 9), "slow"),
        (lambda: macd(THIRTY, 2, 3, 31), "signal"),
    ],
)
def test_windows_longer_than_the_history_are_refused_with_the_number_of_points(
    call: Callable[[], object], field: str
) -> None:
    with pytest.raises(InvalidInput, match="there are 30 data points") as raised:
        call()

    assert raised.value.field == field


def test_a_window_as_long_as_the_history_is_accepted() -> None:
    assert_allclose(sma(THIRTY, 30)[-1], 15.5)


@pytest.mark.parametrize(("fast", "slow"), [(26, 12), (12, 12)])
def test_macd_fast_must_be_less_than_slow(fast: int, slow: int) -> None:
    with pytest.raises(InvalidInput, match="must be less than slow") as raised:
        macd(WALK, fast, slow, 9)

    assert raised.value.field == "fast"


@pytest.mark.parametrize("deviations", [0.0, -1.0, 10.5, NAN, math.inf, True])
def test_deviations_outside_zero_to_ten_or_not_finite_are_refused(deviations: float) -> None:
    with pytest.raises(InvalidInput, match="deviations must be") as raised:
        bollinger(WALK, 20, deviations)

    assert raised.value.field == "deviations"


def test_ten_deviations_are_accepted() -> None:
    bands = bollinger(WALK, 20, 10)

    assert not np.isnan(bands.upper[19:]).any()


@pytest.mark.parametrize("bad", [NAN, math.inf])
def test_closes_that_are_not_finite_are_a_programming_error(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        sma(closes(1, 2, bad, 4), 2)


def test_valid_points_pair_timestamps_with_values_after_the_warm_up() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    timestamps = [start + timedelta(days=day) for day in range(5)]

    points = valid_points(timestamps, sma(closes(1, 2, 3, 4, 5), 3))

    assert points == [(timestamps[2], 2.0), (timestamps[3], 3.0), (timestamps[4], 4.0)]
    assert all(type(value) is float for _, value in points)


def test_valid_triples_keep_only_rows_where_every_line_has_a_value() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    timestamps = [start + timedelta(days=day) for day in range(4)]
    lines = (closes(NAN, 1, 2, 3), closes(NAN, NAN, 20, 30), closes(NAN, 100, 200, 300))

    rows = valid_triples(timestamps, lines)

    assert rows == [(timestamps[2], 2.0, 20.0, 200.0), (timestamps[3], 3.0, 30.0, 300.0)]


def test_valid_triples_accept_the_lines_of_macd_and_bollinger() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    timestamps = [start + timedelta(days=day) for day in range(len(WALK))]

    assert len(valid_triples(timestamps, macd(WALK, 12, 26, 9))) == len(WALK) - 33
    assert len(valid_triples(timestamps, bollinger(WALK, 20, 2.0))) == len(WALK) - 19


def test_valid_points_refuse_timestamps_and_values_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="2 timestamps for 3 values"):
        valid_points([datetime(2024, 1, 1, tzinfo=UTC)] * 2, closes(1, 2, 3))
