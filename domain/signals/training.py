"""Train the signal model: compare candidates walk-forward, keep the best, fit it on all rows.

One model is pooled over every symbol given (rows of all symbols in one table, in time
order): features are ratios, so symbols share a scale, and pooling gives the trees more rows.
Candidates are logistic regression (standardised inside a pipeline) and histogram gradient
boosting, each with calibrated probabilities. The winner has the best walk-forward balanced
accuracy; its score is then slightly optimistic (the best of the candidates), which the
candidates' scores in ModelInfo let readers judge.
"""

from __future__ import annotations

import hashlib
import json
import time as timer
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from domain.signals._sklearn import (
    ALGORITHMS,
    ENSEMBLE,
    PARAMS,
    Classifier,
    FittedEstimator,
    Params,
    ensemble_params,
    fit_calibrated,
    library_versions,
    out_of_fold_probabilities,
)
from domain.signals.dataset import Dataset, IntArray, build_dataset
from domain.signals.evaluation import SymbolEvaluation, evaluate_symbols, label_counts
from domain.signals.features import FeatureSet
from domain.signals.labels import CLASS_ORDER, ClassArray, LabelRule, class_priors
from domain.signals.metrics import permutation_importances
from domain.signals.model import TrainedModel
from domain.signals.model_info import (
    BASELINE_BUY_AND_HOLD,
    BASELINE_MAJORITY,
    BASELINE_RULES,
    ModelInfo,
)
from domain.signals.positions import (
    NESTED_THRESHOLD,
    PositionedClassifier,
    choose_threshold,
    lift_spread,
    next_day_returns,
)
from domain.signals.prices import FloatArray, PriceSeries
from domain.signals.walk_forward import (
    Explainer,
    Fitter,
    StrategyComparison,
    WalkForward,
    compare_strategies,
    walk_forward,
)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """How to label, evaluate and fit.

    - `min_train_days`: trading days (distinct row dates, after the 200-day feature
      warm-up) before the first test period; `refit_every_days`: length of each test
      period, i.e. how often the walk-forward refits.
    - `calibration`: sklearn's CalibratedClassifierCV method. The estimators train with
      balanced class weights (their raw scores treat the classes as equally common);
      "sigmoid" (Platt, one-vs-rest, with an intercept) moves the probabilities back to the
      real base rates, and labels.decide then picks the class with the highest lift.
      "temperature" cannot shift base rates: its probabilities scored a worse log loss than
      always predicting the base rates (see docs/SIGNALS.md).
    - `calibration_folds`: the estimator is fitted on the whole (purged) training window;
      the calibrator learns from out-of-fold predictions over that many time-ordered blocks
      of the window, each predicted by a copy fitted on the window's other rows with the
      labels overlapping the block purged (`calibration_folds`). So every fit costs
      `calibration_folds + 1` estimator fits, and nothing recent is left out of the fit.
    - `positions`: how the model's long/flat strategy takes positions: "nested_threshold"
      (positions.py: long when the BUY-minus-SELL lift is above a threshold chosen on each
      training window's out-of-fold probabilities; costs `calibration_folds` more estimator
      fits per fit; on the four bokeh symbols it beat RULES' Sharpe on 4 of 4, the
      recommendations on 2 of 4, see docs/SIGNALS.md) or "recommendation" (long on BUY,
      flat on SELL, keep on HOLD).
    - `cost_bps`: basis points per position change in the strategy comparison.
    - `overrides`: per algorithm, sklearn keyword arguments replacing those in PARAMS.
    """

    label_rule: LabelRule = field(default_factory=LabelRule)
    features: FeatureSet = field(default_factory=FeatureSet)
    algorithms: tuple[str, ...] = ALGORITHMS
    min_train_days: int = 500
    refit_every_days: int = 250
    calibration: Literal["sigmoid", "temperature", "isotonic"] = "sigmoid"
    calibration_folds: int = 5
    positions: Literal["recommendation", "nested_threshold"] = "nested_threshold"
    importance_repeats: int = 3
    cost_bps: float = 5.0
    random_state: int = 0
    overrides: Mapping[str, Params] = field(default_factory=dict)

    def params(self, algorithm: str) -> Params:
        """The estimator's keyword arguments: PARAMS with this config's overrides (for the
        ensemble, each part's, keyed "part__name")."""
        if algorithm == ENSEMBLE:
            return ensemble_params({part: self.params(part) for part in ALGORITHMS})
        return {**PARAMS[algorithm], **self.overrides.get(algorithm, {})}


@dataclass(frozen=True, slots=True, eq=False)
class Evaluation:
    """Every candidate's walk-forward on the same rows, the chosen one (best balanced
    accuracy), its strategies and its per-symbol figures: all out of sample."""

    dataset: Dataset
    candidates: dict[str, WalkForward]
    chosen: str
    strategies: dict[str, StrategyComparison]
    symbol_evaluations: tuple[SymbolEvaluation, ...]
    walk_forward_seconds: float

    @property
    def result(self) -> WalkForward:
        return self.candidates[self.chosen]


@dataclass(frozen=True, slots=True, eq=False)
class Training:
    """The chosen model and everything measured on the way (for reports and plots)."""

    model: TrainedModel
    evaluation: Evaluation
    final_fit_seconds: float

    @property
    def dataset(self) -> Dataset:
        return self.evaluation.dataset

    @property
    def candidates(self) -> dict[str, WalkForward]:
        return self.evaluation.candidates

    @property
    def strategies(self) -> dict[str, StrategyComparison]:
        return self.evaluation.strategies

    @property
    def walk_forward_seconds(self) -> float:
        return self.evaluation.walk_forward_seconds


def evaluate_candidates(
    histories: Mapping[str, PriceSeries],
    config: TrainingConfig | None = None,
    *,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate every candidate walk-forward on `histories` (symbol -> daily series) and pick
    the best by balanced accuracy; nothing is fitted on the last rows or stored.

    `progress(stage, done, total)` reports each refit. Raises ValueError when the data
    leaves no test period (fewer than min_train_days + 1 usable days) or a training window
    lacks one of the three classes.
    """
    config = config or TrainingConfig()
    dataset = build_dataset(histories, features=config.features, label_rule=config.label_rule)
    started = timer.perf_counter()
    candidates: dict[str, WalkForward] = {}
    for algorithm in config.algorithms:
        candidates[algorithm] = walk_forward(
            dataset,
            _fitter(algorithm, config),
            min_train_days=config.min_train_days,
            refit_every_days=config.refit_every_days,
            explain=_explainer(config),
            progress=_stage(progress, f"walk-forward {algorithm}"),
        )
    walk_forward_seconds = timer.perf_counter() - started
    chosen = max(candidates, key=lambda name: candidates[name].model.balanced_accuracy)
    strategies = compare_strategies(dataset, candidates[chosen], cost_bps=config.cost_bps)
    return Evaluation(
        dataset=dataset,
        candidates=candidates,
        chosen=chosen,
        strategies=strategies,
        symbol_evaluations=evaluate_symbols(dataset, candidates[chosen], strategies),
        walk_forward_seconds=walk_forward_seconds,
    )


def train_model(
    histories: Mapping[str, PriceSeries],
    config: TrainingConfig | None = None,
    *,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Training:
    """evaluate_candidates, then fit the chosen candidate on all labelled rows. Raises
    ValueError as evaluate_candidates does."""
    config = config or TrainingConfig()
    evaluation = evaluate_candidates(histories, config, progress=progress)
    dataset = evaluation.dataset

    started = timer.perf_counter()
    if progress is not None:
        progress("final fit", 0, 1)
    everything = np.arange(len(dataset), dtype=np.intp)
    fitted = _fit(evaluation.chosen, config, dataset, everything)
    threshold = fitted.threshold if isinstance(fitted, PositionedClassifier) else None
    estimator = fitted.classifier if isinstance(fitted, PositionedClassifier) else fitted
    final_fit_seconds = timer.perf_counter() - started
    if progress is not None:
        progress("final fit", 1, 1)

    info = _info(
        evaluation=evaluation,
        config=config,
        trained_at=clock(),
        final_fit_seconds=final_fit_seconds,
        position_threshold=threshold,
    )
    return Training(
        model=TrainedModel(info, estimator),
        evaluation=evaluation,
        final_fit_seconds=final_fit_seconds,
    )


def calibration_folds(
    dataset: Dataset, rows: IntArray, *, folds: int
) -> list[tuple[IntArray, IntArray]]:
    """(fit, held-out) positions within `rows` (time-ordered dataset rows): their days cut
    into `folds` consecutive blocks; each block is held out, and fitted on the rows whose
    labels end before the block starts or start after the block's last label ends, so no
    fitted label shares a close with a held-out one. The held-out blocks partition `rows`."""
    if folds < 2:
        raise ValueError(f"calibration needs at least 2 folds, not {folds}")
    time, label_end = dataset.time[rows], dataset.label_end[rows]
    days = np.unique(time)
    if len(days) < folds:
        raise ValueError(f"{len(days)} training days cannot make {folds} calibration folds")
    splits = []
    for block in np.array_split(days, folds):
        held = np.flatnonzero((time >= block[0]) & (time <= block[-1]))
        last_close_used = label_end[held].max()
        fit = np.flatnonzero((label_end < block[0]) | (time > last_close_used))
        splits.append((fit, held))
    return splits


def _fit(
    algorithm: str, config: TrainingConfig, dataset: Dataset, rows: IntArray
) -> FittedEstimator | PositionedClassifier:
    folds = calibration_folds(dataset, rows, folds=config.calibration_folds)
    x, y = dataset.x[rows], dataset.y[rows]
    params = config.params(algorithm)
    fitted = fit_calibrated(
        algorithm,
        params,
        x,
        y,
        folds,
        method=config.calibration,
        random_state=config.random_state,
    )
    if config.positions != NESTED_THRESHOLD:
        return fitted
    held_out = out_of_fold_probabilities(
        fitted, algorithm, params, x, y, folds, random_state=config.random_state
    )
    spread = lift_spread(held_out, class_priors(y))
    return PositionedClassifier(fitted, choose_threshold(spread, next_day_returns(dataset, rows)))


def _fitter(algorithm: str, config: TrainingConfig) -> Fitter:
    def fit(dataset: Dataset, rows: IntArray) -> Classifier:
        return _fit(algorithm, config, dataset, rows)

    return fit


def _explainer(config: TrainingConfig) -> Explainer:
    def explain(model: Classifier, priors: FloatArray, x: FloatArray, y: ClassArray) -> FloatArray:
        return permutation_importances(
            model, priors, x, y, repeats=config.importance_repeats, seed=config.random_state
        )

    return explain


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    report = progress
    return lambda done, total: report(stage, done, total)


def _info(
    *,
    evaluation: Evaluation,
    config: TrainingConfig,
    trained_at: datetime,
    final_fit_seconds: float,
    position_threshold: float | None,
) -> ModelInfo:
    dataset, chosen, candidates = evaluation.dataset, evaluation.chosen, evaluation.candidates
    strategies, result = evaluation.strategies, evaluation.result
    walk_forward_seconds = evaluation.walk_forward_seconds
    names = config.features.names
    deciles = np.quantile(dataset.x, np.linspace(0, 1, 11), axis=0)
    params = {
        **config.params(chosen),
        "calibration": config.calibration,
        "calibration_folds": config.calibration_folds,
        "calibration_scheme": "purged out-of-fold",
        "random_state": config.random_state,
    }
    fingerprint = json.dumps(
        [chosen, params, list(dataset.symbols), len(dataset), trained_at.isoformat()]
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:8]
    return ModelInfo(
        version=f"{chosen}-h{config.label_rule.horizon}-{trained_at:%Y%m%dT%H%M%SZ}-{digest}",
        algorithm=chosen,
        params=params,
        feature_names=tuple(names),
        uses_volume=config.features.volume,
        feature_importances=dict(zip(names, result.importances.tolist(), strict=True)),
        class_priors={
            side.value: float(prior)
            for side, prior in zip(CLASS_ORDER, class_priors(dataset.y), strict=True)
        },
        feature_deciles={
            name: tuple(deciles[:, column].tolist()) for column, name in enumerate(names)
        },
        label_rule=config.label_rule,
        symbols=dataset.symbols,
        training_rows=len(dataset),
        data_start=datetime.fromtimestamp(int(dataset.time.min()), UTC),
        data_end=datetime.fromtimestamp(int(dataset.label_end.max()), UTC),
        trained_at=trained_at,
        metrics=result.model,
        baseline_metrics={
            BASELINE_RULES: result.rules,
            BASELINE_MAJORITY: result.majority_metrics,
        },
        candidate_metrics={name: wf.model for name, wf in candidates.items()},
        log_loss=result.log_loss,
        base_rate_log_loss=result.base_rate_log_loss,
        strategy_metrics={symbol: c.model.metrics for symbol, c in strategies.items()},
        baseline_strategy_metrics={
            BASELINE_RULES: {symbol: c.rules.metrics for symbol, c in strategies.items()},
            BASELINE_BUY_AND_HOLD: {
                symbol: c.buy_and_hold.metrics for symbol, c in strategies.items()
            },
        },
        min_train_days=config.min_train_days,
        refit_every_days=config.refit_every_days,
        walk_forward_splits=len(result.splits),
        cost_bps=config.cost_bps,
        walk_forward_seconds=walk_forward_seconds,
        final_fit_seconds=final_fit_seconds,
        library_versions=library_versions(),
        symbol_evaluations=evaluation.symbol_evaluations,
        refits=result.splits,
        label_counts=label_counts(dataset.y),
        position_threshold=position_threshold,
    )
