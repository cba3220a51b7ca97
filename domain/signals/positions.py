"""The decision layer for long/flat: from probabilities to a position, with a threshold
chosen inside each training window only.

The recommendation (labels.decide) answers "which outcome is likelier than usual", which is
what balanced accuracy scores; HOLD keeps whatever position the strategy had. A position
needs a yes/no: long when the BUY lift exceeds the SELL lift by more than a threshold,

    spread = p(BUY) / prior(BUY) - p(SELL) / prior(SELL),   long iff spread > threshold,

and flat otherwise. The threshold is the one whose long/flat returns had the best Sharpe
ratio on the training window's out-of-fold probabilities (each row predicted by a copy that
did not train on it, see training.calibration_folds): never chosen on a test block.
"""

from __future__ import annotations

import numpy as np

from domain.signals._sklearn import FittedEstimator
from domain.signals.dataset import Dataset, IntArray
from domain.signals.labels import BUY, SELL, ClassArray
from domain.signals.prices import FloatArray

NESTED_THRESHOLD = "nested_threshold"
# Candidate thresholds: these quantiles of the training spreads (long on 100% .. 10% of rows).
_QUANTILES = np.linspace(0.0, 0.9, 19)


def lift_spread(probabilities: FloatArray, priors: FloatArray) -> FloatArray:
    """Per row (columns SELL, HOLD, BUY): BUY's lift minus SELL's (dimensionless)."""
    floored = np.maximum(priors, 1e-12)
    spread: FloatArray = (
        probabilities[:, BUY] / floored[BUY] - probabilities[:, SELL] / floored[SELL]
    )
    return spread


def next_day_returns(dataset: Dataset, rows: IntArray) -> FloatArray:
    """Each row's return from its close to its symbol's next close (a fraction); a row's
    label ends at or after that close, so a purged training row never reaches a test day."""
    returns = np.zeros(len(rows))
    for number, series in enumerate(dataset.series):
        mine = np.flatnonzero(dataset.symbol[rows] == number)
        position = dataset.position[rows[mine]]
        returns[mine] = series.close[position + 1] / series.close[position] - 1.0
    return returns


def choose_threshold(spread: FloatArray, returns: FloatArray) -> float:
    """The candidate threshold whose long-when-above returns (rows pooled, no costs) have the
    highest mean over standard deviation; ties to the lowest threshold (longest held)."""
    best, chosen = -np.inf, float(np.min(spread)) - 1.0
    for threshold in np.quantile(spread, _QUANTILES).tolist():
        held = np.where(spread > threshold, returns, 0.0)
        deviation = float(np.std(held))
        sharpe = float(np.mean(held)) / deviation if deviation > 0 else -np.inf
        if sharpe > best:
            best, chosen = sharpe, float(threshold)
    return chosen


def long_when_above(spread: FloatArray, threshold: float) -> ClassArray:
    """BUY (long) where the spread is above the threshold, else SELL (flat)."""
    chosen: ClassArray = np.where(spread > threshold, BUY, SELL).astype(np.int8)
    return chosen


class PositionedClassifier:
    """A fitted classifier with the long/flat threshold chosen on its own training window."""

    def __init__(self, classifier: FittedEstimator, threshold: float) -> None:
        self.classifier = classifier
        self.threshold = threshold

    def predict_proba(self, features: FloatArray) -> FloatArray:
        return self.classifier.predict_proba(features)
