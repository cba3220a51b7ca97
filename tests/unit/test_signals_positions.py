"""The nested-threshold decision layer: long/flat positions from probabilities, with the
threshold chosen on each training window's out-of-fold probabilities only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from domain.signals.dataset import build_dataset
from domain.signals.features import FeatureSet
from domain.signals.labels import BUY, HOLD, SELL, LabelRule
from domain.signals.model_info import ModelInfo
from domain.signals.positions import (
    choose_threshold,
    lift_spread,
    long_when_above,
    next_day_returns,
)
from domain.signals.training import TrainingConfig, train_model
from domain.signals.walk_forward import walk_forward_splits
from tests.support.price_walks import random_walk

DATASET = build_dataset(
    {"A": random_walk(600, seed=5), "B": random_walk(550, seed=6)},
    features=FeatureSet(),
    label_rule=LabelRule(horizon=5),
)


def test_the_spread_is_the_buy_lift_minus_the_sell_lift() -> None:
    proba = np.array([[0.2, 0.3, 0.5], [0.5, 0.2, 0.3]])
    priors = np.array([0.25, 0.25, 0.5])

    assert lift_spread(proba, priors).tolist() == pytest.approx([1.0 - 0.8, 0.6 - 2.0])


def test_positions_are_long_above_the_threshold_and_flat_otherwise() -> None:
    assert long_when_above(np.array([-1.0, 0.0, 0.5]), 0.0).tolist() == [SELL, SELL, BUY]


def test_the_threshold_keeps_the_rows_whose_spread_foretold_gains() -> None:
    rng = np.random.default_rng(0)
    spread = rng.normal(size=2000)
    # Rows with a spread above 1 gain, the others lose: the best threshold is near 1.
    returns = np.where(spread > 1.0, 0.01, -0.01) + rng.normal(0, 0.001, size=2000)

    threshold = choose_threshold(spread, returns)

    assert 0.8 < threshold < 1.2
    assert (returns[spread > threshold] > 0).mean() > 0.9


def test_training_rows_next_day_returns_never_reach_the_test_period() -> None:
    splits = walk_forward_splits(
        DATASET.time, DATASET.label_end, min_train_days=150, refit_every_days=100
    )
    for split in splits:
        rows = split.train
        for number, series in enumerate(DATASET.series):
            mine = rows[DATASET.symbol[rows] == number]
            next_closes = [series.timestamps[p + 1] for p in DATASET.position[mine].tolist()]
            assert max(int(t.timestamp()) for t in next_closes) < split.test_start
        returns = next_day_returns(DATASET, rows)
        assert np.isfinite(returns).all()


def test_a_nested_threshold_model_takes_long_or_flat_positions_and_keeps_its_threshold() -> None:
    config = TrainingConfig(
        algorithms=("logistic_regression",),
        min_train_days=200,
        refit_every_days=150,
        positions="nested_threshold",
        importance_repeats=1,
    )
    training = train_model({"A": random_walk(700, seed=3), "B": random_walk(700, seed=4)}, config)

    result = training.candidates["logistic_regression"]
    assert set(np.unique(result.positions).tolist()) <= {BUY, SELL}
    info = training.model.info
    assert isinstance(info.position_threshold, float)
    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    # The recommendations, and so balanced accuracy, do not depend on the decision layer.
    plain = train_model(
        {"A": random_walk(700, seed=3), "B": random_walk(700, seed=4)},
        TrainingConfig(
            algorithms=("logistic_regression",),
            min_train_days=200,
            refit_every_days=150,
            positions="recommendation",
            importance_repeats=1,
        ),
    )
    assert plain.model.info.position_threshold is None
    assert plain.model.info.metrics == info.metrics
    # A served model acts on the same threshold: long or flat after the warm-up.
    series = random_walk(400, seed=9)
    acted_on = training.model.positions(series)
    warm_up = FeatureSet().required_history() - 1
    assert set(acted_on[:warm_up].tolist()) == {HOLD}
    assert set(acted_on[warm_up:].tolist()) <= {BUY, SELL}
    assert plain.model.positions(series).tolist() == plain.model.recommendations(series)[0].tolist()
