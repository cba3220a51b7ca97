"""Calibration on out-of-fold predictions: the estimator that predicts is fitted on every row
of its training window, the calibrator only sees predictions for rows the copy that made them
did not train on (with overlapping labels purged), and the result still knows nothing on noise.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from domain.signals._sklearn import fit_calibrated
from domain.signals.dataset import build_dataset
from domain.signals.features import FeatureSet
from domain.signals.labels import LabelRule
from domain.signals.prices import PriceSeries
from domain.signals.training import TrainingConfig, calibration_folds, train_model
from tests.support.price_walks import random_walk, weekdays

DATASET = build_dataset(
    {"A": random_walk(700, seed=3), "B": random_walk(650, seed=4)},
    features=FeatureSet(),
    label_rule=LabelRule(horizon=5),
)
ROWS = np.arange(len(DATASET) - 100, dtype=np.intp)


def pure_noise(days: int, seed: int) -> PriceSeries:
    """A random walk with one constant volatility: nothing in its past tells its future."""
    returns = np.random.default_rng(seed).normal(0.0003, 0.015, days)
    return PriceSeries(timestamps=weekdays(days), close=50.0 * np.exp(np.cumsum(returns)))


def test_the_held_out_blocks_partition_the_rows_in_time_order() -> None:
    folds = calibration_folds(DATASET, ROWS, folds=5)

    held = np.concatenate([block for _, block in folds])
    assert held.tolist() == list(range(len(ROWS)))
    times = [DATASET.time[ROWS[block]] for _, block in folds]
    for earlier, later in itertools.pairwise(times):
        assert earlier.max() < later.min()


def test_no_fitted_label_shares_a_close_with_a_held_out_label() -> None:
    for fit, held in calibration_folds(DATASET, ROWS, folds=5):
        start, end = DATASET.time[ROWS[held]].min(), DATASET.label_end[ROWS[held]].max()
        fitted_start, fitted_end = DATASET.time[ROWS[fit]], DATASET.label_end[ROWS[fit]]
        assert ((fitted_end < start) | (fitted_start > end)).all()
        assert not np.intersect1d(fit, held).size
        # Rows on both sides of an inner block are fitted: only the overlap is dropped.
        assert len(fit) > len(ROWS) - len(held) - 2 * 2 * 5 - 1


def test_too_few_folds_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 folds"):
        calibration_folds(DATASET, ROWS, folds=1)


def test_the_predicting_estimator_is_fitted_on_every_training_row() -> None:
    config = TrainingConfig()
    fitted = fit_calibrated(
        "logistic_regression",
        config.params("logistic_regression"),
        DATASET.x[ROWS],
        DATASET.y[ROWS],
        calibration_folds(DATASET, ROWS, folds=config.calibration_folds),
        method=config.calibration,
        random_state=0,
    )

    (calibrated,) = fitted.estimator.calibrated_classifiers_
    # The scaler inside the pipeline counts the rows it was fitted on: all of them.
    assert calibrated.estimator.named_steps["scale"].n_samples_seen_ == len(ROWS)


@pytest.mark.parametrize("algorithm", ["logistic_regression", "gradient_boosting"])
def test_on_pure_noise_the_walk_forward_scores_within_noise_of_a_third(algorithm: str) -> None:
    config = TrainingConfig(
        algorithms=(algorithm,),
        min_train_days=300,
        refit_every_days=200,
        importance_repeats=1,
        # Positions do not change the recommendations scored here.
        positions="recommendation",
        overrides={"gradient_boosting": {"max_bins": 32, "max_iter": 30}},
    )
    scores = []
    for seed in range(3):
        histories = {f"N{i}": pure_noise(1200, 1000 * seed + i) for i in range(2)}
        scores.append(train_model(histories, config).model.info.metrics.balanced_accuracy)

    # Each score has a standard deviation near 0.016 on noise (12 sets, logistic regression,
    # docs/SIGNALS.md); the mean of three stays within 0.03 of 1/3 unless something leaks.
    assert abs(np.mean(scores) - 1 / 3) < 0.03, scores
