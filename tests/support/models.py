"""Small trained signal models for tests: logistic regression on two synthetic walks, in
about half a second, each version distinct."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from domain.signals.features import FeatureSet
from domain.signals.labels import LabelRule
from domain.signals.model import TrainedModel
from domain.signals.training import TrainingConfig, train_model
from tests.support.price_walks import random_walk

TRAINED_AT = datetime(2024, 6, 1, 12, tzinfo=UTC)


@lru_cache(maxsize=8)
def small_model(number: int = 0, *, volume: bool = False) -> TrainedModel:
    """A 5-day-horizon model (version distinct per `number`), close-only unless `volume`."""
    histories = {"AAA": random_walk(700, seed=21), "BBB": random_walk(700, seed=22)}
    config = TrainingConfig(
        label_rule=LabelRule(horizon=5),
        features=FeatureSet(volume=volume),
        algorithms=("logistic_regression",),
        min_train_days=200,
        refit_every_days=250,
        importance_repeats=1,
    )
    trained_at = TRAINED_AT + timedelta(minutes=number)
    return train_model(histories, config, clock=lambda: trained_at).model
