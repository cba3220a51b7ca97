"""Walk-forward evaluation: expanding training windows, periodic refits, purged boundaries.

The rows' trading days (pooled over symbols) are cut into test blocks of `refit_every_days`
after the first `min_train_days`. For a block starting on day s, the model is fitted on every
row whose label ends strictly before s (label_end < s), so the `horizon` rows before s are
purged: no training label uses a close from the test period, and none is even on its first
day. Then it predicts the block (labels.decide on its probabilities, with the training
rows' class priors). The RULES baseline and the majority class of the training
labels are scored on exactly the same test rows, and the three long/flat strategies and
buy-and-hold are run per symbol over the same test days.
"""

from __future__ import annotations

import time as timer
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from domain.signals._sklearn import Classifier
from domain.signals.backtest import Backtest, buy_and_hold, long_flat
from domain.signals.dataset import Dataset, IntArray, SecondsArray
from domain.signals.labels import ClassArray, class_priors, decide
from domain.signals.metrics import ClassificationMetrics, log_loss, score_classes
from domain.signals.positions import PositionedClassifier, lift_spread, long_when_above
from domain.signals.prices import FloatArray

# Fits a model on the given dataset rows.
Fitter = Callable[[Dataset, IntArray], Classifier]
# Per-feature importance of a fitted model (with its training class priors) on some rows.
Explainer = Callable[[Classifier, FloatArray, FloatArray, ClassArray], FloatArray]


@dataclass(frozen=True, slots=True, eq=False)
class Split:
    """Row indices of one refit. `test_start` / `test_end` are POSIX seconds of the first and
    last test day; `purged` counts rows dropped from training because their label ends on or
    after `test_start`."""

    train: IntArray
    test: IntArray
    test_start: int
    test_end: int
    purged: int


@dataclass(frozen=True, slots=True)
class SplitScore:
    test_start: datetime
    test_end: datetime
    train_rows: int
    test_rows: int
    model: ClassificationMetrics
    rules: ClassificationMetrics
    majority: ClassificationMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "model": self.model.to_dict(),
            "rules": self.rules.to_dict(),
            "majority": self.majority.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitScore:
        return cls(
            test_start=datetime.fromisoformat(data["test_start"]),
            test_end=datetime.fromisoformat(data["test_end"]),
            train_rows=int(data["train_rows"]),
            test_rows=int(data["test_rows"]),
            model=ClassificationMetrics.from_dict(data["model"]),
            rules=ClassificationMetrics.from_dict(data["rules"]),
            majority=ClassificationMetrics.from_dict(data["majority"]),
        )


@dataclass(frozen=True, slots=True)
class StrategyComparison:
    """One symbol over its test days: the model's and the rules' long/flat strategies and
    buy-and-hold."""

    model: Backtest
    rules: Backtest
    buy_and_hold: Backtest


@dataclass(frozen=True, slots=True, eq=False)
class WalkForward:
    """Out-of-sample results. `test_rows` are dataset rows in test order, aligned with
    `predicted`, `probabilities` (columns SELL, HOLD, BUY), `majority` and `positions` (what
    the model's long/flat strategy acts on: the recommendations, or BUY/SELL from a
    PositionedClassifier's threshold). `model`, `rules`
    and `majority_metrics` score all test rows pooled. `importances` are the permutation
    importances averaged over splits (weighted by test rows), clipped at 0 and normalised to
    sum 1 (all 0 when no feature helped); empty without an explainer. `log_loss` scores the
    probabilities (nats per row); `base_rate_log_loss` what always predicting each split's
    training class frequencies would score on the same rows: calibrated probabilities that
    know something beat it."""

    splits: tuple[SplitScore, ...]
    test_rows: IntArray
    predicted: ClassArray
    probabilities: FloatArray
    majority: ClassArray
    positions: ClassArray
    model: ClassificationMetrics
    rules: ClassificationMetrics
    majority_metrics: ClassificationMetrics
    importances: FloatArray
    log_loss: float
    base_rate_log_loss: float
    seconds: float


def walk_forward_splits(
    time: SecondsArray, label_end: SecondsArray, *, min_train_days: int, refit_every_days: int
) -> list[Split]:
    """Expanding-window splits over rows with these times and label ends (POSIX seconds).

    Days are the distinct row times. Raises ValueError when there are not more than
    `min_train_days` days, or a window is below 1 day.
    """
    if min_train_days < 1 or refit_every_days < 1:
        raise ValueError("min_train_days and refit_every_days must be at least 1")
    days = np.unique(time)
    if len(days) <= min_train_days:
        raise ValueError(f"{len(days)} days leave no test period after {min_train_days}")
    splits = []
    for first in range(min_train_days, len(days), refit_every_days):
        last = min(first + refit_every_days, len(days)) - 1
        start, end = int(days[first]), int(days[last])
        before = time < start
        train = np.flatnonzero(label_end < start)
        splits.append(
            Split(
                train=train,
                test=np.flatnonzero((time >= start) & (time <= end)),
                test_start=start,
                test_end=end,
                purged=int(before.sum()) - len(train),
            )
        )
    return splits


def walk_forward(
    dataset: Dataset,
    fit: Fitter,
    *,
    min_train_days: int,
    refit_every_days: int,
    explain: Explainer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WalkForward:
    """Fit and score one model family over the walk-forward splits of `dataset`.
    `progress(done, total)` is called after each refit."""
    started = timer.perf_counter()
    splits = walk_forward_splits(
        dataset.time,
        dataset.label_end,
        min_train_days=min_train_days,
        refit_every_days=refit_every_days,
    )
    scores: list[SplitScore] = []
    predicted: list[ClassArray] = []
    probabilities: list[FloatArray] = []
    majority: list[ClassArray] = []
    positions: list[ClassArray] = []
    base_rates: list[FloatArray] = []
    importances = np.zeros(dataset.x.shape[1])
    for done, split in enumerate(splits, start=1):
        model = fit(dataset, split.train)
        proba = model.predict_proba(dataset.x[split.test])
        priors = class_priors(dataset.y[split.train])
        guesses = decide(proba, priors)
        most_common = np.int8(np.argmax(priors))
        constant = np.full(len(split.test), most_common, dtype=np.int8)
        truth = dataset.y[split.test]
        scores.append(
            SplitScore(
                test_start=_datetime(split.test_start),
                test_end=_datetime(split.test_end),
                train_rows=len(split.train),
                test_rows=len(split.test),
                model=score_classes(truth, guesses),
                rules=score_classes(truth, dataset.rules[split.test]),
                majority=score_classes(truth, constant),
            )
        )
        if explain is not None:
            importances += explain(model, priors, dataset.x[split.test], truth) * len(split.test)
        predicted.append(guesses)
        positions.append(
            long_when_above(lift_spread(proba, priors), model.threshold)
            if isinstance(model, PositionedClassifier)
            else guesses
        )
        probabilities.append(proba)
        majority.append(constant)
        base_rates.append(np.tile(priors, (len(split.test), 1)))
        if progress is not None:
            progress(done, len(splits))
    test_rows = np.concatenate([split.test for split in splits])
    all_predicted = np.concatenate(predicted)
    all_majority = np.concatenate(majority)
    truth = dataset.y[test_rows]
    all_probabilities = np.concatenate(probabilities)
    return WalkForward(
        splits=tuple(scores),
        test_rows=test_rows,
        predicted=all_predicted,
        probabilities=all_probabilities,
        majority=all_majority,
        positions=np.concatenate(positions),
        model=score_classes(truth, all_predicted),
        rules=score_classes(truth, dataset.rules[test_rows]),
        majority_metrics=score_classes(truth, all_majority),
        importances=normalise(importances) if explain is not None else np.zeros(0),
        log_loss=log_loss(all_probabilities, truth),
        base_rate_log_loss=log_loss(np.concatenate(base_rates), truth),
        seconds=timer.perf_counter() - started,
    )


def compare_strategies(
    dataset: Dataset, result: WalkForward, *, cost_bps: float
) -> dict[str, StrategyComparison]:
    """Per symbol with test rows: long/flat on the model's and the rules' out-of-sample
    recommendations, and buy-and-hold, over that symbol's test days."""
    comparisons: dict[str, StrategyComparison] = {}
    for number, symbol in enumerate(dataset.symbols):
        mine = np.flatnonzero(dataset.symbol[result.test_rows] == number)
        if len(mine) == 0:
            continue
        rows = result.test_rows[mine]
        # Test rows are in time order, and a symbol's test days are consecutive closes.
        series = dataset.series[number]
        stamps = tuple(series.timestamps[p] for p in dataset.position[rows].tolist())
        close = dataset.close[rows]
        comparisons[symbol] = StrategyComparison(
            model=long_flat(stamps, close, result.positions[mine], cost_bps=cost_bps),
            rules=long_flat(stamps, close, dataset.rules[rows], cost_bps=cost_bps),
            buy_and_hold=buy_and_hold(stamps, close, cost_bps=cost_bps),
        )
    return comparisons


def normalise(importances: FloatArray) -> FloatArray:
    """Negative importances (shuffling helped: noise) become 0; the rest sum to 1."""
    clipped = np.clip(importances, 0.0, None)
    total = float(clipped.sum())
    return clipped / total if total > 0 else clipped


def _datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
