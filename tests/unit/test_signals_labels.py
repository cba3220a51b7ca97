from __future__ import annotations

import math

import numpy as np
import pytest

from domain.signals.labels import BUY, HOLD, SELL, LabelRule, class_priors, decide, label_closes


def closes(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_the_forward_return_over_the_horizon_decides_the_class() -> None:
    # horizon 2: 100 -> 103 (+3%), 101 -> 99 (-1.98%), 103 -> 103.5 (+0.49%)
    labels = label_closes(closes(100, 101, 103, 99, 103.5), LabelRule(horizon=2, threshold=0.01))

    assert labels.classes[:3].tolist() == [BUY, SELL, HOLD]
    assert labels.forward_return[:3] == pytest.approx([0.03, 99 / 101 - 1, 103.5 / 103 - 1])


def test_the_last_horizon_points_have_no_label() -> None:
    labels = label_closes(closes(100, 101, 103, 99, 103.5), LabelRule(horizon=2))

    assert labels.known.tolist() == [True, True, True, False, False]
    assert np.isnan(labels.forward_return[3:]).all()


def test_a_move_of_exactly_the_threshold_holds() -> None:
    # Both moves are exact in binary floating point: +25% and -25%.
    labels = label_closes(closes(100, 125, 93.75), LabelRule(horizon=1, threshold=0.25))

    assert labels.forward_return[:2].tolist() == [0.25, -0.25]
    assert labels.classes[:2].tolist() == [HOLD, HOLD]


def test_a_series_shorter_than_the_horizon_has_no_labels() -> None:
    labels = label_closes(closes(100, 101), LabelRule(horizon=5))

    assert not labels.known.any()


def test_volatility_scaled_thresholds_follow_the_recent_daily_volatility() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, size=60), dtype=np.float64)
    rule = LabelRule(horizon=5, volatility_multiple=0.5, volatility_window=20)

    labels = label_closes(close, rule)

    t = 30
    sigma = np.std(close[t - 19 : t + 1] / close[t - 20 : t] - 1, ddof=1)
    assert labels.threshold[t] == pytest.approx(0.5 * sigma * math.sqrt(5))
    # The volatility needs 21 closes: no label before it exists.
    assert not labels.known[:20].any()
    assert labels.known[20:55].all()
    forward = close[t + 5] / close[t] - 1
    expected = (
        BUY if forward > labels.threshold[t] else SELL if forward < -labels.threshold[t] else HOLD
    )
    assert labels.classes[t] == expected


@pytest.mark.parametrize(
    "arguments",
    [{"horizon": 0}, {"threshold": -0.01}, {"threshold": math.nan}, {"volatility_multiple": 0.0}],
)
def test_a_rule_out_of_range_is_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LabelRule(**arguments)  # type: ignore[arg-type]


def test_the_decision_is_the_class_most_above_its_base_rate() -> None:
    priors = class_priors(np.array([SELL, HOLD, BUY, BUY, BUY], dtype=np.int8))
    probabilities = np.array([[0.2, 0.3, 0.5], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])

    decisions = decide(probabilities, priors)

    assert priors.tolist() == [0.2, 0.2, 0.6]
    # BUY is the most probable in the first row, but HOLD is 1.5x its base rate.
    assert decisions.tolist() == [HOLD, SELL, BUY]


def test_a_tie_in_lift_holds() -> None:
    decisions = decide(np.array([[0.4, 0.2, 0.4]]), np.array([0.4, 0.2, 0.4]))

    assert decisions.tolist() == [HOLD]
