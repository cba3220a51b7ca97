"""The model answers when it can; otherwise the rules do, with a reason saying why."""

from __future__ import annotations

import pytest

from domain.signals.answering import RULES_MIN_POINTS, answer
from domain.signals.model import TrainedModel
from domain.signals.prices import InsufficientData
from domain.signals.recommendations import PredictionMethod, Signal
from tests.support.models import small_model
from tests.support.price_walks import random_walk

LONG = random_walk(320, seed=99)


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return small_model()


def codes(signal: Signal) -> list[str]:
    return [reason.code for reason in signal.reasons]


def test_the_model_answers_a_long_enough_series_at_its_horizon(model: TrainedModel) -> None:
    signal = answer(LONG, horizon_days=5, model=model)
    assert (signal.method, signal.model_version) == (PredictionMethod.MODEL, model.version)
    assert not any(code.startswith("MODEL_FALLBACK") for code in codes(signal))


def test_a_series_shorter_than_the_model_needs_is_answered_by_the_rules(
    model: TrainedModel,
) -> None:
    signal = answer(LONG.head(60), horizon_days=5, model=model)
    assert (signal.method, signal.model_version) == (PredictionMethod.RULES, None)
    fallback = signal.reasons[-1]
    assert fallback.code == "MODEL_FALLBACK_HISTORY"
    assert f"{model.version} needs 200 daily closes, 60 are available" in fallback.description


def test_another_horizon_than_the_models_is_answered_by_the_rules(model: TrainedModel) -> None:
    signal = answer(LONG, horizon_days=10, model=model)
    assert (signal.method, signal.horizon_days) == (PredictionMethod.RULES, 10)
    assert codes(signal)[-1] == "MODEL_FALLBACK_HORIZON"
    assert "predicts 5 trading days ahead, not 10" in signal.reasons[-1].description


def test_a_volume_model_without_volumes_is_answered_by_the_rules() -> None:
    volume_model = small_model(volume=True)
    assert volume_model.info.uses_volume
    assert answer(LONG, horizon_days=5, model=volume_model).method is PredictionMethod.MODEL
    signal = answer(LONG.without_volume(), horizon_days=5, model=volume_model)
    assert signal.method is PredictionMethod.RULES
    assert codes(signal)[-1] == "MODEL_FALLBACK_VOLUME"


def test_an_active_model_that_could_not_be_loaded_is_named_in_a_reason() -> None:
    signal = answer(LONG, horizon_days=5, model=None, unloadable_version="broken-1")
    assert signal.method is PredictionMethod.RULES
    assert codes(signal)[-1] == "MODEL_FALLBACK_UNLOADABLE"
    assert "broken-1" in signal.reasons[-1].description


def test_without_a_model_the_rules_answer_with_no_fallback_reason() -> None:
    signal = answer(LONG, horizon_days=5, model=None)
    assert signal.method is PredictionMethod.RULES
    assert not any(code.startswith("MODEL_FALLBACK") for code in codes(signal))


@pytest.mark.parametrize("with_model", [False, True])
def test_fewer_points_than_the_rules_need_are_insufficient(
    model: TrainedModel, with_model: bool
) -> None:
    with pytest.raises(InsufficientData) as raised:
        answer(LONG.head(10), horizon_days=5, model=model if with_model else None)
    assert (raised.value.required, raised.value.available) == (RULES_MIN_POINTS, 10)
