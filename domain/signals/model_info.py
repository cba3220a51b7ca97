"""What a trained model is and how it scored: the metadata a store keeps next to its bytes
and the API shows as modelInfo. `to_dict` gives plain JSON values; `from_dict` reads them back.

All scores are out of sample (walk-forward); see walk_forward.py for how.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.signals.backtest import StrategyMetrics
from domain.signals.evaluation import SymbolEvaluation
from domain.signals.labels import LabelRule
from domain.signals.metrics import ClassificationMetrics
from domain.signals.walk_forward import SplitScore

BASELINE_RULES = "rules"
BASELINE_MAJORITY = "majority"
BASELINE_BUY_AND_HOLD = "buy_and_hold"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A trained model's card.

    - `params`: the estimator's hyperparameters plus the calibration method and folds.
    - `feature_importances`: permutation importances (drop in balanced accuracy) averaged
      over the walk-forward test periods, negatives clipped to 0, normalised to sum 1.
    - `class_priors`: how often each label ("SELL", "HOLD", "BUY") occurred in the
      training rows (fractions summing to 1); predictions compare probabilities with them.
    - `feature_deciles`: the 0th, 10th, ..., 100th percentiles of each feature over the
      training rows, to tell how unusual a value is.
    - `symbols`: one model pooled over all of them when there are several (`pooled`).
    - `data_start` / `data_end`: the first training row and the last close a training
      label uses. A backtest of this model before `data_end` is in sample.
    - `metrics`: the chosen model's pooled walk-forward scores; `baseline_metrics` the RULES
      and majority-class scores on the same test rows; `candidate_metrics` every
      candidate's (the chosen one won on balanced accuracy). `log_loss` (nats per row) of
      the walk-forward probabilities, next to `base_rate_log_loss`, that of always
      predicting the training class frequencies: lower than it means the probabilities are
      calibrated and informative.
    - `strategy_metrics` (per symbol): long/flat on the model's out-of-sample
      recommendations; `baseline_strategy_metrics` "rules" and "buy_and_hold" per symbol,
      over the same days; costs `cost_bps` per trade.
    - `symbol_evaluations`: per symbol, its test rows and span, the model's, RULES' and the
      majority class's scores and the long/flat strategies next to buy-and-hold; `refits`:
      the same scores per walk-forward test period; `label_counts`: how many training rows
      carry each label. Models stored before these existed load with them empty.
    - `position_threshold`: with the nested-threshold decision layer (positions.py), the
      BUY-minus-SELL lift above which the model's long/flat strategy is long; None when
      its positions follow the recommendations.
    - Times are timezone-aware UTC; seconds are wall-clock on the training machine.
    """

    version: str
    algorithm: str
    params: dict[str, Any]
    feature_names: tuple[str, ...]
    uses_volume: bool
    feature_importances: dict[str, float]
    class_priors: dict[str, float]
    feature_deciles: dict[str, tuple[float, ...]]
    label_rule: LabelRule
    symbols: tuple[str, ...]
    training_rows: int
    data_start: datetime
    data_end: datetime
    trained_at: datetime
    metrics: ClassificationMetrics
    baseline_metrics: dict[str, ClassificationMetrics]
    candidate_metrics: dict[str, ClassificationMetrics]
    log_loss: float
    base_rate_log_loss: float
    strategy_metrics: dict[str, StrategyMetrics]
    baseline_strategy_metrics: dict[str, dict[str, StrategyMetrics]]
    min_train_days: int
    refit_every_days: int
    walk_forward_splits: int
    cost_bps: float
    walk_forward_seconds: float
    final_fit_seconds: float
    library_versions: dict[str, str]
    symbol_evaluations: tuple[SymbolEvaluation, ...] = ()
    refits: tuple[SplitScore, ...] = ()
    label_counts: dict[str, int] = field(default_factory=dict)
    position_threshold: float | None = None

    @property
    def horizon_days(self) -> int:
        return self.label_rule.horizon

    @property
    def pooled(self) -> bool:
        return len(self.symbols) > 1

    def to_dict(self) -> dict[str, Any]:
        rule = self.label_rule
        return {
            "version": self.version,
            "algorithm": self.algorithm,
            "params": self.params,
            "feature_names": list(self.feature_names),
            "uses_volume": self.uses_volume,
            "feature_importances": self.feature_importances,
            "class_priors": self.class_priors,
            "feature_deciles": {k: list(v) for k, v in self.feature_deciles.items()},
            "label_rule": {
                "horizon": rule.horizon,
                "threshold": rule.threshold,
                "volatility_multiple": rule.volatility_multiple,
                "volatility_window": rule.volatility_window,
            },
            "symbols": list(self.symbols),
            "pooled": self.pooled,
            "training_rows": self.training_rows,
            "data_start": self.data_start.isoformat(),
            "data_end": self.data_end.isoformat(),
            "trained_at": self.trained_at.isoformat(),
            "metrics": self.metrics.to_dict(),
            "baseline_metrics": {k: v.to_dict() for k, v in self.baseline_metrics.items()},
            "candidate_metrics": {k: v.to_dict() for k, v in self.candidate_metrics.items()},
            "log_loss": self.log_loss,
            "base_rate_log_loss": self.base_rate_log_loss,
            "strategy_metrics": {k: v.to_dict() for k, v in self.strategy_metrics.items()},
            "baseline_strategy_metrics": {
                name: {k: v.to_dict() for k, v in per_symbol.items()}
                for name, per_symbol in self.baseline_strategy_metrics.items()
            },
            "min_train_days": self.min_train_days,
            "refit_every_days": self.refit_every_days,
            "walk_forward_splits": self.walk_forward_splits,
            "cost_bps": self.cost_bps,
            "walk_forward_seconds": self.walk_forward_seconds,
            "final_fit_seconds": self.final_fit_seconds,
            "library_versions": self.library_versions,
            "symbol_evaluations": [e.to_dict() for e in self.symbol_evaluations],
            "refits": [refit.to_dict() for refit in self.refits],
            "label_counts": self.label_counts,
            "position_threshold": self.position_threshold,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Raises KeyError, TypeError or ValueError on a malformed dict."""
        rule = data["label_rule"]
        return cls(
            version=str(data["version"]),
            algorithm=str(data["algorithm"]),
            params=dict(data["params"]),
            feature_names=tuple(str(name) for name in data["feature_names"]),
            uses_volume=bool(data["uses_volume"]),
            feature_importances={str(k): float(v) for k, v in data["feature_importances"].items()},
            class_priors={str(k): float(v) for k, v in data["class_priors"].items()},
            feature_deciles={
                str(k): tuple(float(x) for x in v) for k, v in data["feature_deciles"].items()
            },
            label_rule=LabelRule(
                horizon=int(rule["horizon"]),
                threshold=float(rule["threshold"]),
                volatility_multiple=(
                    None
                    if rule["volatility_multiple"] is None
                    else float(rule["volatility_multiple"])
                ),
                volatility_window=int(rule["volatility_window"]),
            ),
            symbols=tuple(str(symbol) for symbol in data["symbols"]),
            training_rows=int(data["training_rows"]),
            data_start=datetime.fromisoformat(data["data_start"]),
            data_end=datetime.fromisoformat(data["data_end"]),
            trained_at=datetime.fromisoformat(data["trained_at"]),
            metrics=ClassificationMetrics.from_dict(data["metrics"]),
            baseline_metrics={
                k: ClassificationMetrics.from_dict(v) for k, v in data["baseline_metrics"].items()
            },
            candidate_metrics={
                k: ClassificationMetrics.from_dict(v) for k, v in data["candidate_metrics"].items()
            },
            log_loss=float(data["log_loss"]),
            base_rate_log_loss=float(data["base_rate_log_loss"]),
            strategy_metrics={
                k: StrategyMetrics.from_dict(v) for k, v in data["strategy_metrics"].items()
            },
            baseline_strategy_metrics={
                name: {k: StrategyMetrics.from_dict(v) for k, v in per_symbol.items()}
                for name, per_symbol in data["baseline_strategy_metrics"].items()
            },
            min_train_days=int(data["min_train_days"]),
            refit_every_days=int(data["refit_every_days"]),
            walk_forward_splits=int(data["walk_forward_splits"]),
            cost_bps=float(data["cost_bps"]),
            walk_forward_seconds=float(data["walk_forward_seconds"]),
            final_fit_seconds=float(data["final_fit_seconds"]),
            library_versions={str(k): str(v) for k, v in data["library_versions"].items()},
            symbol_evaluations=tuple(
                SymbolEvaluation.from_dict(e) for e in data.get("symbol_evaluations", [])
            ),
            refits=tuple(SplitScore.from_dict(refit) for refit in data.get("refits", [])),
            label_counts={str(k): int(v) for k, v in data.get("label_counts", {}).items()},
            position_threshold=(
                None
                if data.get("position_threshold") is None
                else float(data["position_threshold"])
            ),
        )
