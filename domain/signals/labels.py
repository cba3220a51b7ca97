"""Training labels: what happened over the next `horizon` trading days.

label(t) = BUY when close[t + horizon] / close[t] - 1 > threshold(t), SELL when it is below
-threshold(t), else HOLD (the boundaries are HOLD). The threshold is a fixed fraction
(0.01 = 1%) or, with `volatility_multiple`, that multiple of the 20-day daily-return
volatility at t scaled to the horizon (k * sigma20(t) * sqrt(horizon)), so a calm stock needs
a smaller move to count. The last `horizon` points have no label (their future is unknown),
nor do points before the volatility exists when it is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.signals._rolling import return_volatility
from domain.signals.prices import FloatArray
from domain.signals.recommendations import Recommendation

# Class codes used by labels, models and metrics; sklearn sorts classes, so this is also the
# column order of predict_proba.
SELL, HOLD, BUY = 0, 1, 2
CLASS_ORDER = (Recommendation.SELL, Recommendation.HOLD, Recommendation.BUY)

ClassArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class LabelRule:
    """`horizon` in trading days (>= 1); `threshold` a fraction (0.01 = 1%, >= 0);
    `volatility_multiple` k > 0 replaces the fixed threshold by k * sigma(window) *
    sqrt(horizon) when set."""

    horizon: int = 5
    threshold: float = 0.01
    volatility_multiple: float | None = None
    volatility_window: int = 20

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1 trading day, not {self.horizon}")
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise ValueError(f"threshold must be a fraction >= 0, not {self.threshold}")
        if self.volatility_multiple is not None and not self.volatility_multiple > 0:
            raise ValueError("volatility_multiple must be above 0")

    def describe(self) -> str:
        if self.volatility_multiple is None:
            return f"+/-{self.threshold:.2%} over {self.horizon} days"
        return (
            f"+/-{self.volatility_multiple:g} x {self.volatility_window}-day volatility"
            f" x sqrt({self.horizon}) over {self.horizon} days"
        )


@dataclass(frozen=True, slots=True, eq=False)
class Labels:
    """Per point: `classes` (codes, HOLD where unknown), `known`, the forward return and the
    threshold used (fractions; NaN where unknown)."""

    classes: ClassArray
    known: BoolArray
    forward_return: FloatArray
    threshold: FloatArray


def label_closes(close: FloatArray, rule: LabelRule) -> Labels:
    """Labels of every point of `close` (finite prices > 0, oldest first)."""
    n = len(close)
    forward = np.full(n, np.nan)
    if n > rule.horizon:
        forward[: n - rule.horizon] = close[rule.horizon :] / close[: n - rule.horizon] - 1.0
    if rule.volatility_multiple is None:
        threshold = np.full(n, rule.threshold)
    else:
        sigma = return_volatility(close, rule.volatility_window)
        threshold = rule.volatility_multiple * sigma * math.sqrt(rule.horizon)
    known = ~(np.isnan(forward) | np.isnan(threshold))
    classes = np.full(n, HOLD, dtype=np.int8)
    classes[known & (forward > threshold)] = BUY
    classes[known & (forward < -threshold)] = SELL
    return Labels(classes=classes, known=known, forward_return=forward, threshold=threshold)


def class_priors(classes: ClassArray) -> FloatArray:
    """How often each class occurs (fractions, columns SELL, HOLD, BUY); the training labels'
    base rates that `decide` compares probabilities with. Needs at least one label."""
    if len(classes) == 0:
        raise ValueError("no labels to count")
    counts = np.bincount(classes, minlength=len(CLASS_ORDER)).astype(np.float64)
    priors: FloatArray = counts / counts.sum()
    return priors


def decide(probabilities: FloatArray, priors: FloatArray) -> ClassArray:
    """Per row of calibrated probabilities (columns SELL, HOLD, BUY), the class whose
    probability stands highest relative to its base rate (p / prior, the lift); ties go to
    HOLD, then SELL.

    Why not the most probable class: calibrated probabilities lean towards the most common
    label (BUY in a rising market), so their argmax nearly always says the same and scores no
    better than the majority class on balanced accuracy. The lift asks "which outcome is
    more likely than usual here", the decision that maximises balanced accuracy.
    """
    lift = probabilities / np.maximum(priors, 1e-12)
    # np.argmax takes the first maximum: order the columns HOLD, SELL, BUY for the ties.
    order = np.array([HOLD, SELL, BUY], dtype=np.int8)
    decisions: ClassArray = order[np.argmax(lift[:, order], axis=1)]
    return decisions
