"""The report of `stockql evaluate`: a table per symbol and per refit (rich), a PNG of the
equity curves and of balanced accuracy per refit (matplotlib), and the same figures as JSON.

Everything in it is out of sample: see domain/signals/evaluation.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from domain.signals.evaluation import label_counts
from domain.signals.training import Evaluation, TrainingConfig


def report_dict(evaluation: Evaluation, config: TrainingConfig) -> dict[str, Any]:
    """The report as plain JSON values (fractions, ISO dates)."""
    result = evaluation.result
    return {
        "symbols": list(evaluation.dataset.symbols),
        "labels": config.label_rule.describe(),
        "horizon_days": config.label_rule.horizon,
        "min_train_days": config.min_train_days,
        "refit_every_days": config.refit_every_days,
        "cost_bps": config.cost_bps,
        "chosen": evaluation.chosen,
        "candidates": {name: wf.model.to_dict() for name, wf in evaluation.candidates.items()},
        "pooled": {
            "model": result.model.to_dict(),
            "rules": result.rules.to_dict(),
            "majority": result.majority_metrics.to_dict(),
            "log_loss": result.log_loss,
            "base_rate_log_loss": result.base_rate_log_loss,
        },
        "label_counts": label_counts(evaluation.dataset.y),
        "symbol_evaluations": [e.to_dict() for e in evaluation.symbol_evaluations],
        "refits": [refit.to_dict() for refit in result.splits],
        "walk_forward_seconds": evaluation.walk_forward_seconds,
    }


def print_report(evaluation: Evaluation, console: Console) -> None:
    result = evaluation.result
    counts = label_counts(evaluation.dataset.y)
    total = sum(counts.values())
    console.print(
        f"chosen {evaluation.chosen}: balanced accuracy {result.model.balanced_accuracy:.3f}, "
        f"RULES {result.rules.balanced_accuracy:.3f}, majority "
        f"{result.majority_metrics.balanced_accuracy:.3f} on {result.model.samples:,} test rows; "
        "labels " + ", ".join(f"{name} {count / total:.1%}" for name, count in counts.items()),
        markup=False,
        highlight=False,
    )
    symbols = Table(title="per symbol (out of sample)")
    for column in ("symbol", "test rows", "span", "bal. acc. model / RULES / majority"):
        symbols.add_column(column)
    for column in ("Sharpe model / RULES / hold", "return model / RULES / hold"):
        symbols.add_column(column, justify="right")
    for e in evaluation.symbol_evaluations:
        runs = (e.model_strategy, e.rules_strategy, e.buy_and_hold)
        symbols.add_row(
            e.symbol,
            f"{e.test_rows:,}",
            f"{e.test_start.date()} .. {e.test_end.date()}",
            " / ".join(f"{m.balanced_accuracy:.3f}" for m in (e.model, e.rules, e.majority)),
            " / ".join(f"{run.sharpe:.2f}" for run in runs),
            " / ".join(f"{run.total_return:+.0%}" for run in runs),
        )
    console.print(symbols)
    refits = Table(title="per refit, balanced accuracy")
    for column in ("test period", "train rows", "test rows", "model", "RULES", "majority"):
        refits.add_column(column)
    for split in result.splits:
        refits.add_row(
            f"{split.test_start.date()} .. {split.test_end.date()}",
            f"{split.train_rows:,}",
            f"{split.test_rows:,}",
            *(f"{m.balanced_accuracy:.3f}" for m in (split.model, split.rules, split.majority)),
        )
    console.print(refits)


def write_report(evaluation: Evaluation, config: TrainingConfig, directory: Path) -> list[Path]:
    """evaluation.json and evaluation.png in `directory` (created if missing); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = directory / "evaluation.json"
    written.write_text(json.dumps(report_dict(evaluation, config), indent=2) + "\n")
    plotted = directory / "evaluation.png"
    _plot(evaluation, plotted)
    return [written, plotted]


def _plot(evaluation: Evaluation, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    strategies = evaluation.strategies
    figure, axes = plt.subplots(len(strategies) + 1, 1, figsize=(10, 3 * (len(strategies) + 1)))
    for axis, (symbol, comparison) in zip(axes, strategies.items(), strict=False):
        for name, run in (
            (evaluation.chosen, comparison.model),
            ("RULES", comparison.rules),
            ("buy-and-hold", comparison.buy_and_hold),
        ):
            days = [point.timestamp for point in run.curve]
            axis.plot(days, [point.equity for point in run.curve], label=name)
        axis.set_yscale("log")
        axis.set_title(f"{symbol}: long/flat equity, out of sample (1.0 = start)")
        axis.legend(loc="upper left")
        axis.grid(alpha=0.3)
    splits = evaluation.result.splits
    starts = [split.test_start for split in splits]
    refits = axes[-1]
    for name, values in (
        (evaluation.chosen, [split.model.balanced_accuracy for split in splits]),
        ("RULES", [split.rules.balanced_accuracy for split in splits]),
        ("majority", [split.majority.balanced_accuracy for split in splits]),
    ):
        refits.plot(starts, values, marker="o", label=name)
    refits.axhline(1 / 3, color="grey", linewidth=0.8)
    refits.set_title("balanced accuracy per refit (test period start)")
    refits.legend(loc="upper left")
    refits.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(output)
    plt.close(figure)
