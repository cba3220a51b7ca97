from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import pytest

from domain.signals._sklearn import Classifier
from domain.signals.dataset import Dataset, IntArray, build_dataset
from domain.signals.features import FeatureSet
from domain.signals.labels import LabelRule
from domain.signals.metrics import score_classes
from domain.signals.prices import FloatArray
from domain.signals.walk_forward import compare_strategies, walk_forward, walk_forward_splits
from tests.support.price_walks import START, random_walk

HORIZON = 5
# Two symbols on shifted calendars: B starts 30 trading days after A and ends later.
DATASET = build_dataset(
    {
        "A": random_walk(600, seed=1),
        "B": random_walk(600, seed=2, start=START + timedelta(days=42)),
    },
    features=FeatureSet(),
    label_rule=LabelRule(horizon=HORIZON),
)
SPLITS = walk_forward_splits(
    DATASET.time, DATASET.label_end, min_train_days=150, refit_every_days=100
)


class AlwaysBuy:
    def predict_proba(self, features: FloatArray) -> FloatArray:
        return np.tile([0.1, 0.2, 0.7], (len(features), 1))


class RecordingFitter:
    def __init__(self) -> None:
        self.rows: list[IntArray] = []

    def __call__(self, dataset: Dataset, rows: IntArray) -> Classifier:
        self.rows.append(rows)
        return AlwaysBuy()


def test_no_training_label_ends_on_or_after_the_first_test_day() -> None:
    assert len(SPLITS) == 3
    for split in SPLITS:
        assert DATASET.label_end[split.train].max() < split.test_start
        assert DATASET.time[split.test].min() == split.test_start


def test_the_purge_drops_the_horizon_rows_before_each_test_period_of_each_symbol() -> None:
    for split in SPLITS:
        for symbol in (0, 1):
            before = np.flatnonzero((DATASET.time < split.test_start) & (DATASET.symbol == symbol))
            trained = np.intersect1d(split.train, before)
            assert trained.tolist() == before[:-HORIZON].tolist()
        assert split.purged == 2 * HORIZON


def test_test_periods_follow_each_other_and_training_windows_only_grow() -> None:
    days = np.unique(DATASET.time)
    tested = np.concatenate([DATASET.time[split.test] for split in SPLITS])

    assert tested.tolist() == sorted(tested.tolist())
    assert np.array_equal(np.unique(tested), days[150:])
    for earlier, later in itertools.pairwise(SPLITS):
        assert set(earlier.train) < set(later.train)
        assert earlier.test_end < later.test_start


def test_the_model_is_fitted_only_on_each_splits_purged_training_rows() -> None:
    fitter = RecordingFitter()

    walk_forward(DATASET, fitter, min_train_days=150, refit_every_days=100)

    assert len(fitter.rows) == len(SPLITS)
    for rows, split in zip(fitter.rows, SPLITS, strict=True):
        assert rows.tolist() == split.train.tolist()


def test_rules_and_majority_are_scored_on_exactly_the_model_test_rows() -> None:
    result = walk_forward(DATASET, RecordingFitter(), min_train_days=150, refit_every_days=100)

    for score, split in zip(result.splits, SPLITS, strict=True):
        truth = DATASET.y[split.test]
        majority = np.argmax(np.bincount(DATASET.y[split.train], minlength=3))
        assert score.model == score_classes(truth, np.full(len(truth), 2, dtype=np.int8))
        assert score.rules == score_classes(truth, DATASET.rules[split.test])
        assert score.majority == score_classes(truth, np.full(len(truth), majority, np.int8))
        assert score.model.samples == score.rules.samples == score.majority.samples
    assert result.model.samples == result.rules.samples == len(result.test_rows)


def test_each_symbols_strategies_run_over_its_test_days() -> None:
    result = walk_forward(DATASET, RecordingFitter(), min_train_days=150, refit_every_days=100)

    comparisons = compare_strategies(DATASET, result, cost_bps=10)

    for number, symbol in enumerate(("A", "B")):
        tested = result.test_rows[DATASET.symbol[result.test_rows] == number]
        comparison = comparisons[symbol]
        for backtest in (comparison.model, comparison.rules, comparison.buy_and_hold):
            assert backtest.metrics.days == len(tested)
        # Always BUY: long from the first test close, exactly like buy-and-hold.
        assert comparison.model.curve == comparison.buy_and_hold.curve


def test_too_few_days_for_a_test_period_are_refused() -> None:
    days = len(np.unique(DATASET.time))

    with pytest.raises(ValueError, match="no test period"):
        walk_forward_splits(
            DATASET.time, DATASET.label_end, min_train_days=days, refit_every_days=10
        )


def test_log_losses_score_the_probabilities_and_the_training_base_rates() -> None:
    result = walk_forward(DATASET, RecordingFitter(), min_train_days=150, refit_every_days=100)

    truth = DATASET.y[result.test_rows]
    base_rates = np.concatenate(
        [
            np.tile(np.bincount(DATASET.y[s.train], minlength=3) / len(s.train), (len(s.test), 1))
            for s in SPLITS
        ]
    )
    rows = np.arange(len(truth))
    assert result.log_loss == pytest.approx(-np.mean(np.log(np.array([0.1, 0.2, 0.7])[truth])))
    assert result.base_rate_log_loss == pytest.approx(-np.mean(np.log(base_rates[rows, truth])))
