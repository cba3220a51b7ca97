"""Classification scores of recommendations against labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from domain.signals._sklearn import Classifier, classification_scores
from domain.signals.labels import ClassArray, decide
from domain.signals.prices import FloatArray


@dataclass(frozen=True, slots=True)
class ClassificationMetrics:
    """Scores as fractions in 0..1 over `samples` points. Balanced accuracy is the mean recall
    of the classes present: always guessing one class scores 1/3 when all three occur."""

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassificationMetrics:
        return cls(
            accuracy=float(data["accuracy"]),
            balanced_accuracy=float(data["balanced_accuracy"]),
            macro_f1=float(data["macro_f1"]),
            samples=int(data["samples"]),
        )


def score_classes(truth: ClassArray, predicted: ClassArray) -> ClassificationMetrics:
    """Scores of `predicted` against `truth` (class codes, same length, at least one)."""
    if len(truth) != len(predicted) or len(truth) == 0:
        raise ValueError(f"need equal, non-zero lengths, not {len(truth)} and {len(predicted)}")
    accuracy, balanced, f1 = classification_scores(truth, predicted)
    return ClassificationMetrics(
        accuracy=accuracy, balanced_accuracy=balanced, macro_f1=f1, samples=len(truth)
    )


def log_loss(probabilities: FloatArray, classes: ClassArray) -> float:
    """Mean negative log probability given to the true class, in nats per row (lower is
    better; ln 3 = 1.0986 for always 1/3 each). Probabilities are floored at 1e-12."""
    given = probabilities[np.arange(len(classes)), classes]
    return float(-np.mean(np.log(np.maximum(given, 1e-12))))


def permutation_importances(
    model: Classifier,
    priors: FloatArray,
    x: FloatArray,
    y: ClassArray,
    *,
    repeats: int = 3,
    seed: int = 0,
) -> FloatArray:
    """Per feature column, the mean drop in balanced accuracy (a fraction) of the model's
    decisions (labels.decide with `priors`) when that column is shuffled among the rows, over
    `repeats` shuffles; negative when shuffling helped."""
    rng = np.random.default_rng(seed)
    base = _balanced_accuracy(model, priors, x, y)
    drops = np.zeros(x.shape[1])
    for column in range(x.shape[1]):
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[:, column] = rng.permutation(x[:, column])
            drops[column] += base - _balanced_accuracy(model, priors, shuffled, y)
    importances: FloatArray = drops / repeats
    return importances


def _balanced_accuracy(
    model: Classifier, priors: FloatArray, x: FloatArray, y: ClassArray
) -> float:
    predicted = decide(model.predict_proba(x), priors)
    return classification_scores(y, predicted)[1]
