from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from domain.signals.artifact import ModelArtifactError, dump_artifact
from domain.signals.labels import LabelRule
from domain.signals.model import TrainedModel
from domain.signals.model_info import ModelInfo
from domain.signals.prices import InsufficientData, PriceSeries
from domain.signals.recommendations import PredictionMethod
from domain.signals.training import Training, TrainingConfig, train_model
from tests.support.price_walks import START, random_walk

TRAINED_AT = datetime(2024, 6, 1, 12, tzinfo=UTC)
HISTORIES = {
    "AAA": random_walk(700, seed=21),
    "BBB": random_walk(700, seed=22),
    "CCC": random_walk(700, seed=23, start=START + timedelta(days=70)),
}
# Small windows so that two refits fit in 700 days, and fewer histogram bins: with class
# weights, sklearn finds each bin edge in a Python loop. Everything else as in production.
CONFIG = TrainingConfig(
    label_rule=LabelRule(horizon=5),
    min_train_days=200,
    refit_every_days=150,
    overrides={"gradient_boosting": {"max_bins": 32}},
)
SERIES = random_walk(320, seed=99)


def train(*algorithms: str) -> Training:
    config = TrainingConfig(
        label_rule=CONFIG.label_rule,
        algorithms=algorithms,
        min_train_days=CONFIG.min_train_days,
        refit_every_days=CONFIG.refit_every_days,
        overrides=CONFIG.overrides,
    )
    return train_model(HISTORIES, config, clock=lambda: TRAINED_AT)


@pytest.fixture(scope="module")
def both() -> Training:
    return train("logistic_regression", "gradient_boosting")


@pytest.fixture(scope="module")
def boosted() -> TrainedModel:
    return train("gradient_boosting").model


@pytest.fixture(scope="module")
def ensemble() -> TrainedModel:
    """The soft vote of both, small: fewer trees, positions from the recommendations."""
    config = TrainingConfig(
        label_rule=CONFIG.label_rule,
        algorithms=("ensemble",),
        min_train_days=CONFIG.min_train_days,
        refit_every_days=CONFIG.refit_every_days,
        positions="recommendation",
        importance_repeats=1,
        overrides={"gradient_boosting": {"max_bins": 32, "max_iter": 20}},
    )
    return train_model(HISTORIES, config, clock=lambda: TRAINED_AT).model


def test_the_candidate_with_the_best_walk_forward_balanced_accuracy_is_kept(
    both: Training,
) -> None:
    info = both.model.info
    scores = {name: m.balanced_accuracy for name, m in info.candidate_metrics.items()}

    assert set(scores) == {"logistic_regression", "gradient_boosting"}
    assert info.algorithm == max(scores, key=lambda name: scores[name])
    assert info.metrics == info.candidate_metrics[info.algorithm]
    assert info.metrics.samples == info.baseline_metrics["rules"].samples


def test_the_model_info_describes_a_pooled_versioned_model(both: Training) -> None:
    info = both.model.info

    assert info.symbols == ("AAA", "BBB", "CCC")
    assert info.pooled
    assert info.version.startswith(f"{info.algorithm}-h5-20240601T120000Z-")
    assert info.trained_at == TRAINED_AT
    assert info.training_rows == len(both.dataset)
    assert info.walk_forward_splits == 3
    assert set(info.library_versions) == {"scikit-learn", "numpy", "skops"}
    assert sum(info.feature_importances.values()) == pytest.approx(1.0)
    assert set(info.strategy_metrics) == set(info.baseline_strategy_metrics["buy_and_hold"])


def test_the_model_info_survives_json(both: Training) -> None:
    info = both.model.info

    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


def test_per_symbol_figures_add_up_to_the_pooled_test_rows(both: Training) -> None:
    info = both.model.info

    assert [e.symbol for e in info.symbol_evaluations] == ["AAA", "BBB", "CCC"]
    assert sum(e.test_rows for e in info.symbol_evaluations) == info.metrics.samples
    for evaluation in info.symbol_evaluations:
        assert evaluation.model.samples == evaluation.rules.samples == evaluation.test_rows
        assert evaluation.model_strategy == info.strategy_metrics[evaluation.symbol]
        assert evaluation.buy_and_hold.exposure == 1.0
    assert [refit.test_rows for refit in info.refits] == [
        split.test_rows for split in both.candidates[info.algorithm].splits
    ]
    assert sum(info.label_counts.values()) == info.training_rows


def test_a_model_info_stored_before_the_per_symbol_figures_still_loads(both: Training) -> None:
    older = both.model.info.to_dict()
    for key in ("symbol_evaluations", "refits", "label_counts"):
        del older[key]

    loaded = ModelInfo.from_dict(older)

    assert (loaded.symbol_evaluations, loaded.refits, loaded.label_counts) == ((), (), {})


def test_a_prediction_is_a_calibrated_model_signal_with_rule_and_feature_reasons(
    both: Training,
) -> None:
    signal = both.model.predict(SERIES)

    p = signal.probabilities
    assert signal.method is PredictionMethod.MODEL
    assert signal.model_version == both.model.version
    assert p.buy + p.hold + p.sell == pytest.approx(1.0)
    assert signal.confidence == p.of(signal.recommendation)
    assert signal.reasons[0].code == "MODEL_OUTLOOK"
    assert signal.horizon_days == 5
    assert signal.as_of == SERIES.timestamps[-1]
    assert [r.code for r in signal.reasons if r.code.startswith("FEATURE_")]
    assert signal.indicators.sma200 == pytest.approx(np.mean(SERIES.close[-200:]))


def test_a_close_only_series_is_enough(both: Training) -> None:
    points = [(date(2020, 1, 1) + timedelta(days=i), float(c)) for i, c in enumerate(SERIES.close)]

    from_points = both.model.predict(PriceSeries.from_points(points))

    assert from_points.probabilities == both.model.predict(SERIES).probabilities


def test_too_short_a_series_is_insufficient(both: Training) -> None:
    with pytest.raises(InsufficientData) as caught:
        both.model.predict(SERIES.head(150))

    assert (caught.value.required, caught.value.available) == (200, 150)


@pytest.mark.parametrize("t", [199, 260, 318])
def test_data_after_t_never_changes_the_prediction_at_t(both: Training, t: int) -> None:
    model = both.model
    rng = np.random.default_rng(t)
    altered_close = SERIES.close.copy()
    altered_close[t + 1 :] *= rng.uniform(0.5, 2.0, size=len(SERIES) - t - 1)
    altered = PriceSeries(timestamps=SERIES.timestamps, close=altered_close)

    classes, proba = model.recommendations(SERIES)
    altered_classes, altered_proba = model.recommendations(altered)
    alone = model.predict(SERIES.head(t + 1)).probabilities

    assert np.array_equal(altered_proba[t], proba[t])
    assert altered_classes[t] == classes[t]
    assert [alone.sell, alone.hold, alone.buy] == pytest.approx(proba[t].tolist(), abs=1e-12)


@pytest.mark.parametrize("fixture", ["both", "boosted", "ensemble"])
def test_a_round_trip_through_bytes_predicts_identically(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    value = request.getfixturevalue(fixture)
    model: TrainedModel = value.model if isinstance(value, Training) else value

    loaded = TrainedModel.from_bytes(model.to_bytes())

    assert loaded.info == model.info
    assert loaded.predict(SERIES) == model.predict(SERIES)
    assert np.array_equal(
        loaded.recommendations(SERIES)[1], model.recommendations(SERIES)[1], equal_nan=True
    )


class Smuggled:
    """A type no artifact should contain."""


def test_loading_refuses_an_artifact_with_an_untrusted_type(boosted: TrainedModel) -> None:
    blob = dump_artifact(json.dumps(boosted.info.to_dict()), Smuggled())

    with pytest.raises(ModelArtifactError, match=r"Untrusted types.*Smuggled"):
        TrainedModel.from_bytes(blob)


def test_loading_refuses_a_tree_pointing_outside_itself(boosted: TrainedModel) -> None:
    estimator = copy.deepcopy(boosted._estimator.estimator)
    predictor = estimator.calibrated_classifiers_[0].estimator._predictors[0][0]
    predictor.nodes["left"][0] = len(predictor.nodes) + 5
    blob = dump_artifact(json.dumps(boosted.info.to_dict()), estimator)

    with pytest.raises(ModelArtifactError, match="tree nodes"):
        TrainedModel.from_bytes(blob)


def test_loading_checks_the_trees_inside_an_ensemble(ensemble: TrainedModel) -> None:
    estimator = copy.deepcopy(ensemble._estimator.estimator)
    voting = estimator.calibrated_classifiers_[0].estimator
    boosted_part = voting.estimators_[1]
    boosted_part._predictors[0][0].nodes["feature_idx"][0] = 10_000
    blob = dump_artifact(json.dumps(ensemble.info.to_dict()), estimator)

    with pytest.raises(ModelArtifactError, match="tree nodes"):
        TrainedModel.from_bytes(blob)


def test_loading_refuses_bytes_that_are_not_an_artifact() -> None:
    with pytest.raises(ModelArtifactError):
        TrainedModel.from_bytes(b"PK\x03\x04 not really a zip")
