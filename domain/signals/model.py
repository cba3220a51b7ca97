"""A trained model: predict a Signal from a price series, and travel as bytes.

`to_bytes()` holds the fitted estimator and the ModelInfo (see artifact.py for the safe
format); a store may also keep `info.to_dict()` as JSON to list models without loading them.
"""

from __future__ import annotations

import json

import numpy as np

from domain.signals._sklearn import FittedEstimator, check_estimator
from domain.signals.artifact import ModelArtifactError, dump_artifact, load_artifact
from domain.signals.features import Feature, FeatureSet
from domain.signals.labels import CLASS_ORDER, HOLD, ClassArray, decide
from domain.signals.model_info import ModelInfo
from domain.signals.positions import lift_spread, long_when_above
from domain.signals.prices import FloatArray, PriceSeries
from domain.signals.recommendations import (
    PredictionMethod,
    ProbabilityDistribution,
    Reason,
    Signal,
)
from domain.signals.rules import rule_votes
from domain.signals.technicals import Technicals

TOP_FEATURES = 3


class TrainedModel:
    """A fitted, calibrated classifier and its ModelInfo. Immutable once built."""

    def __init__(self, info: ModelInfo, estimator: FittedEstimator) -> None:
        features = FeatureSet(volume=info.uses_volume)
        if tuple(features.names) != info.feature_names:
            raise ModelArtifactError(
                "the model was trained on other features than this code computes: "
                f"{', '.join(info.feature_names)}"
            )
        self.info = info
        self.features = features
        self.priors = np.array([info.class_priors[side.value] for side in CLASS_ORDER])
        self._estimator = estimator

    @property
    def version(self) -> str:
        return self.info.version

    def predict(self, series: PriceSeries) -> Signal:
        """The MODEL signal for the last point of `series`, from that series alone.

        Probabilities come from the calibrated model. The recommendation is the outcome whose
        probability stands highest above its base rate in training (labels.decide), so it
        is not always the most probable one: BUY at 41% when BUY usually happens 44% of the
        time is less telling than HOLD at 28% against 22%. `confidence` is the probability of
        the recommendation. Reasons: the model's outlook against the base rates, the rules
        that fire at that point, then the TOP_FEATURES most important features.

        Raises InsufficientData when the series is shorter than
        `features.required_history()`, and InvalidInput when the model uses volume and the
        series has none.
        """
        technicals = Technicals.of(series.close)
        row = self.features.last_row(series, technicals)
        proba = self._estimator.predict_proba(row[np.newaxis, :])[0]
        probabilities = _distribution(proba)
        proba = np.array([probabilities.sell, probabilities.hold, probabilities.buy])
        recommendation = CLASS_ORDER[int(decide(proba[np.newaxis, :], self.priors)[0])]
        reasons = [self._outlook(proba)]
        reasons += [vote.reason for vote in rule_votes(technicals, -1)]
        reasons += _feature_reasons(self.info, self.features.features, row)
        return Signal(
            recommendation=recommendation,
            confidence=probabilities.of(recommendation),
            probabilities=probabilities,
            method=PredictionMethod.MODEL,
            model_version=self.info.version,
            horizon_days=self.info.horizon_days,
            price=float(series.close[-1]),
            as_of=series.timestamps[-1],
            reasons=tuple(reasons),
            indicators=technicals.snapshot(-1),
        )

    def recommendations(self, series: PriceSeries) -> tuple[ClassArray, FloatArray]:
        """For every point: the recommendation as a class code (labels.CLASS_ORDER; HOLD
        during the warm-up) and the probabilities (rows SELL, HOLD, BUY; NaN during the
        warm-up). Point t uses points up to t only, so these feed a backtest, which is in
        sample before `info.data_end`."""
        x = self.features.compute(series)
        ready = np.isfinite(x).all(axis=1)
        proba = np.full((len(series), 3), np.nan)
        classes = np.full(len(series), HOLD, dtype=np.int8)
        if ready.any():
            proba[ready] = self._estimator.predict_proba(x[ready])
            classes[ready] = decide(proba[ready], self.priors)
        return classes, proba

    def positions(self, series: PriceSeries) -> ClassArray:
        """For every point, what the model's long/flat strategy acts on (BUY long, SELL flat,
        HOLD keep): the recommendations, or with a position threshold (positions.py) BUY
        above it and SELL below; HOLD during the warm-up either way."""
        classes, proba = self.recommendations(series)
        threshold = self.info.position_threshold
        if threshold is None:
            return classes
        ready = np.isfinite(proba).all(axis=1)
        classes[ready] = long_when_above(lift_spread(proba[ready], self.priors), threshold)
        return classes

    def _outlook(self, proba: FloatArray) -> Reason:
        parts = [
            f"{side.value} {p:.0%} (usually {prior:.0%})"
            for side, p, prior in zip(
                CLASS_ORDER, proba.tolist(), self.priors.tolist(), strict=True
            )
        ]
        return Reason(
            code="MODEL_OUTLOOK",
            description=f"Next {self.info.horizon_days} days: " + ", ".join(reversed(parts)),
        )

    def to_bytes(self) -> bytes:
        return dump_artifact(json.dumps(self.info.to_dict()), self._estimator.estimator)

    @classmethod
    def from_bytes(cls, blob: bytes) -> TrainedModel:
        """Load `to_bytes()` output. Raises ModelArtifactError (a ValueError) on bytes that
        are not a model, hold an untrusted type, or fail the checks of the trees."""
        text, estimator = load_artifact(blob)
        try:
            info = ModelInfo.from_dict(json.loads(text))
            checked = check_estimator(estimator, len(info.feature_names))
        except (KeyError, TypeError, ValueError) as error:
            raise ModelArtifactError(f"not a usable model: {error}") from error
        return cls(info, checked)


def _distribution(proba: FloatArray) -> ProbabilityDistribution:
    # Calibrated probabilities sum to 1 up to rounding; make it exact for the checks.
    clipped = np.clip(proba, 0.0, 1.0)
    sell, hold, buy = (clipped / clipped.sum()).tolist()
    return ProbabilityDistribution(buy=buy, hold=hold, sell=sell)


def _feature_reasons(
    info: ModelInfo, features: tuple[Feature, ...], row: FloatArray
) -> list[Reason]:
    ranked = sorted(info.feature_importances.items(), key=lambda item: -item[1])
    reasons = []
    for name, weight in ranked[:TOP_FEATURES]:
        if weight <= 0:
            break
        index = info.feature_names.index(name)
        feature = features[index]
        value = float(row[index])
        shown = f"{value:.2%}" if feature.unit == "fraction" else f"{value:.1f}"
        deciles = info.feature_deciles[name]
        percentile = float(np.interp(value, deciles, np.linspace(0, 100, len(deciles))))
        reasons.append(
            Reason(
                code=f"FEATURE_{name.upper()}",
                description=(
                    f"{feature.label} = {shown} (percentile {percentile:.0f} of the training"
                    f" data; {weight:.0%} of the model's importance)"
                ),
            )
        )
    return reasons
