"""What a walk-forward says per symbol, per refit and about the labels: the figures a reader
needs to judge a model beyond its pooled score (ModelInfo keeps them; `stockql evaluate`
prints and plots them).

Every figure is out of sample: the model's recommendations on each symbol's test rows, the
RULES and the training windows' majority class on exactly those rows, and the long/flat
strategies and buy-and-hold over the same days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from domain.signals.backtest import StrategyMetrics
from domain.signals.dataset import Dataset
from domain.signals.labels import CLASS_ORDER, ClassArray
from domain.signals.metrics import ClassificationMetrics, score_classes
from domain.signals.walk_forward import StrategyComparison, WalkForward


@dataclass(frozen=True, slots=True)
class SymbolEvaluation:
    """One symbol's test rows (`test_start` .. `test_end`, UTC): classification scores of the
    model, RULES and the majority class, and the long/flat strategies of the model and RULES
    next to buy-and-hold."""

    symbol: str
    test_rows: int
    test_start: datetime
    test_end: datetime
    model: ClassificationMetrics
    rules: ClassificationMetrics
    majority: ClassificationMetrics
    model_strategy: StrategyMetrics
    rules_strategy: StrategyMetrics
    buy_and_hold: StrategyMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "test_rows": self.test_rows,
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
            **{name: getattr(self, name).to_dict() for name in _METRICS + _STRATEGIES},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SymbolEvaluation:
        return cls(
            symbol=str(data["symbol"]),
            test_rows=int(data["test_rows"]),
            test_start=datetime.fromisoformat(data["test_start"]),
            test_end=datetime.fromisoformat(data["test_end"]),
            model=ClassificationMetrics.from_dict(data["model"]),
            rules=ClassificationMetrics.from_dict(data["rules"]),
            majority=ClassificationMetrics.from_dict(data["majority"]),
            model_strategy=StrategyMetrics.from_dict(data["model_strategy"]),
            rules_strategy=StrategyMetrics.from_dict(data["rules_strategy"]),
            buy_and_hold=StrategyMetrics.from_dict(data["buy_and_hold"]),
        )


_METRICS = ("model", "rules", "majority")
_STRATEGIES = ("model_strategy", "rules_strategy", "buy_and_hold")


def evaluate_symbols(
    dataset: Dataset, result: WalkForward, strategies: dict[str, StrategyComparison]
) -> tuple[SymbolEvaluation, ...]:
    """Per symbol with test rows, in the dataset's symbol order."""
    tested = result.test_rows
    truth = dataset.y[tested]
    evaluations = []
    for number, symbol in enumerate(dataset.symbols):
        mine = np.flatnonzero(dataset.symbol[tested] == number)
        if len(mine) == 0:
            continue
        comparison = strategies[symbol]
        times = dataset.time[tested[mine]]
        evaluations.append(
            SymbolEvaluation(
                symbol=symbol,
                test_rows=len(mine),
                test_start=datetime.fromtimestamp(int(times.min()), UTC),
                test_end=datetime.fromtimestamp(int(times.max()), UTC),
                model=score_classes(truth[mine], result.predicted[mine]),
                rules=score_classes(truth[mine], dataset.rules[tested[mine]]),
                majority=score_classes(truth[mine], result.majority[mine]),
                model_strategy=comparison.model.metrics,
                rules_strategy=comparison.rules.metrics,
                buy_and_hold=comparison.buy_and_hold.metrics,
            )
        )
    return tuple(evaluations)


def label_counts(classes: ClassArray) -> dict[str, int]:
    """How many rows carry each label, by name ("SELL", "HOLD", "BUY")."""
    counts = np.bincount(classes, minlength=len(CLASS_ORDER)).tolist()
    return {side.value: int(count) for side, count in zip(CLASS_ORDER, counts, strict=True)}
