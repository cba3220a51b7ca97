"""Walk-forward evaluation of the signal model on real daily prices, with timings.

    .venv/bin/python bench/evaluate_signals.py [--symbols AAPL IBM GOOG] [--horizon 5]
        [--threshold 0.01 | --volatility-multiple 0.43] [--volume] [--refit-every 250]
        [--min-train 500] [--cost-bps 5] [--positions recommendation] [--leakage-check]
        [--synthetic 5] [--no-thread-limit]

Data: bokeh_sampledata's stocks (Quandl WIKI, public domain, inside the wheel, no network),
2000-03-01 (GOOG 2004-08-19) to 2013-03-01. Its OHLC is not split-adjusted: prices are scaled
by adj_close / close (so AAPL's 2005 split is not a -50% day) and volumes by the inverse.
`--synthetic N` instead times N random walks of 2,520 days (10 years), for the speed target
only; with `--pure-noise` they have constant volatility, so walk-forward scores above 1/3
would reveal a leak.

Prints Markdown tables: classification scores (every candidate, RULES and the majority class on
the same out-of-sample rows), the long/flat strategies against buy-and-hold per symbol, feature
importances and timings. `--leakage-check` adds what a shuffled 5-fold cross-validation
(the wrong way for time series) would have claimed for the same models.

Targets (2-core machine, 5 symbols x 10 years): final fit under 60 s, full walk-forward under
5 minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from bokeh_sampledata import stocks

from domain.market import BarSeries
from domain.signals.features import FeatureSet
from domain.signals.labels import LabelRule
from domain.signals.metrics import score_classes
from domain.signals.model import TrainedModel
from domain.signals.prices import PriceSeries
from domain.signals.training import Training, TrainingConfig, train_model

FINAL_FIT_TARGET = 60.0
WALK_FORWARD_TARGET = 300.0


def sample_series(symbol: str) -> PriceSeries:
    """Split-adjusted daily bars of a bokeh_sampledata stock."""
    data = getattr(stocks, symbol)
    scale = np.array(data["adj_close"]) / np.array(data["close"])
    bars = BarSeries(
        timestamps=[datetime.strptime(d, "%Y-%m-%d").replace(tzinfo=UTC) for d in data["date"]],
        open=(np.array(data["open"]) * scale).tolist(),
        high=(np.array(data["high"]) * scale).tolist(),
        low=(np.array(data["low"]) * scale).tolist(),
        close=(np.array(data["close"]) * scale).tolist(),
        volume=(np.array(data["volume"], dtype=float) / scale).tolist(),
    )
    return PriceSeries.from_bars(bars)


def synthetic_series(seed: int, days: int, *, regimes: bool) -> PriceSeries:
    """A random walk on weekdays, with calm and wild volatility regimes (timing) or one
    constant volatility (pure noise: nothing to predict, so any skill would be a leak)."""
    rng = np.random.default_rng(seed)
    regime = np.repeat(rng.integers(0, 2, size=days // 60 + 1), 60)[:days]
    sigma = np.where(regime == 1, 0.025, 0.008) if regimes else np.full(days, 0.015)
    returns = rng.normal(0.0003, sigma)
    stamps: list[datetime] = []
    day = datetime(2003, 1, 1, tzinfo=UTC)
    while len(stamps) < days:
        if day.weekday() < 5:
            stamps.append(day)
        day += timedelta(days=1)
    return PriceSeries(
        timestamps=tuple(stamps),
        close=40.0 * np.exp(np.cumsum(returns)),
        volume=1e6 * (1 + 30 * np.abs(returns)) * rng.uniform(0.8, 1.2, size=days),
    )


def main() -> None:
    args = parse_arguments()
    if args.no_thread_limit:
        from contextlib import nullcontext

        from domain.signals import _sklearn

        _sklearn.single_thread = nullcontext
    if args.synthetic:
        histories = {
            f"SYN{i}": synthetic_series(i, args.synthetic_days, regimes=not args.pure_noise)
            for i in range(args.synthetic)
        }
    else:
        histories = {symbol: sample_series(symbol) for symbol in args.symbols}
    rule = LabelRule(
        horizon=args.horizon,
        threshold=args.threshold,
        volatility_multiple=args.volatility_multiple,
    )
    config = TrainingConfig(
        label_rule=rule,
        features=FeatureSet(volume=args.volume),
        algorithms=tuple(args.algorithms),
        min_train_days=args.min_train,
        refit_every_days=args.refit_every,
        cost_bps=args.cost_bps,
        positions=args.positions,
    )
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {' '.join(sys.argv)}\n")
    for symbol, series in histories.items():
        print(
            f"- {symbol}: {len(series)} closes, {series.timestamps[0]:%Y-%m-%d} .. "
            f"{series.timestamps[-1]:%Y-%m-%d}"
        )
    print(
        f"- labels: {rule.describe()}; features: {'with' if args.volume else 'no'} volume; "
        f"refit every {args.refit_every} days after {args.min_train}; costs {args.cost_bps:g} bp"
    )

    started = time.perf_counter()
    training = train_model(histories, config, progress=progress)
    total = time.perf_counter() - started
    print("\n")
    report(training, args.cost_bps)
    report_timings(training, total)
    if args.leakage_check:
        leakage_check(training, config)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", nargs="+", default=["AAPL", "IBM", "GOOG"])
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=0.01)
    parser.add_argument("--volatility-multiple", type=float, default=None)
    parser.add_argument("--volume", action="store_true")
    parser.add_argument(
        "--algorithms", nargs="+", default=["logistic_regression", "gradient_boosting"]
    )
    parser.add_argument("--min-train", type=int, default=500)
    parser.add_argument("--refit-every", type=int, default=250)
    parser.add_argument("--cost-bps", type=float, default=5.0)
    parser.add_argument(
        "--positions", choices=["recommendation", "nested_threshold"], default="nested_threshold"
    )
    parser.add_argument("--leakage-check", action="store_true")
    parser.add_argument("--synthetic", type=int, default=0)
    parser.add_argument("--synthetic-days", type=int, default=2520)
    parser.add_argument("--pure-noise", action="store_true", help="synthetic without regimes")
    parser.add_argument(
        "--no-thread-limit",
        action="store_true",
        help="let BLAS/OpenMP use every core (to measure what the one-thread limit buys)",
    )
    return parser.parse_args()


def progress(stage: str, done: int, total: int) -> None:
    print(f"\r{stage}: {done}/{total}   ", end="", file=sys.stderr, flush=True)
    if done == total:
        print(file=sys.stderr)


def report(training: Training, cost_bps: float) -> None:
    info = training.model.info
    dataset = training.dataset
    counts = np.bincount(dataset.y, minlength=3) / len(dataset)
    chosen = training.candidates[info.algorithm]
    first, last = chosen.splits[0], chosen.splits[-1]
    print(
        f"Rows: {len(dataset)} (pooled over {', '.join(dataset.symbols)}); labels SELL "
        f"{counts[0]:.1%}, HOLD {counts[1]:.1%}, BUY {counts[2]:.1%}. Out of sample: "
        f"{first.test_start:%Y-%m-%d} .. {last.test_end:%Y-%m-%d}, {len(chosen.splits)} refits."
        f" Chosen: {info.algorithm}.\n"
    )
    print("| predictor | accuracy | balanced accuracy | macro F1 | samples |")
    print("|---|---|---|---|---|")
    for name, result in training.candidates.items():
        mark = " (chosen)" if name == info.algorithm else ""
        row(f"{name}{mark}", result.model)
    row("RULES", chosen.rules)
    row("majority class", chosen.majority_metrics)
    print(
        "\nProbabilities, log loss in nats per row (lower is better; base rates = always the"
        " training class frequencies, uniform = ln 3 = 1.0986):\n"
    )
    for name, result in training.candidates.items():
        print(f"- {name}: {result.log_loss:.4f} vs base rates {result.base_rate_log_loss:.4f}")
    tested = chosen.test_rows
    truth, by_symbol = dataset.y[tested], dataset.symbol[tested]
    parts = []
    for number, symbol in enumerate(dataset.symbols):
        mine = by_symbol == number
        if mine.any():
            model = score_classes(truth[mine], chosen.predicted[mine]).balanced_accuracy
            rules = score_classes(truth[mine], dataset.rules[tested][mine]).balanced_accuracy
            parts.append(f"{symbol} {model:.3f} (RULES {rules:.3f})")
    print("\nChosen pooled model per symbol, balanced accuracy: " + ", ".join(parts))

    print(
        f"\nLong/flat on out-of-sample recommendations vs buy-and-hold, {cost_bps:g} bp a trade:\n"
    )
    print("| symbol | strategy | total return | Sharpe | max drawdown | trades | exposure |")
    print("|---|---|---|---|---|---|---|")
    for symbol, comparison in training.strategies.items():
        for name, backtest in (
            (info.algorithm, comparison.model),
            ("RULES", comparison.rules),
            ("buy-and-hold", comparison.buy_and_hold),
        ):
            m = backtest.metrics
            print(
                f"| {symbol} | {name} | {m.total_return:+.1%} | {m.sharpe:.2f} | "
                f"{m.max_drawdown:.1%} | {m.trades} | {m.exposure:.0%} |"
            )

    print("\nPer refit (chosen model vs RULES vs majority, balanced accuracy):\n")
    print("| test period | train rows | test rows | model | RULES | majority |")
    print("|---|---|---|---|---|---|")
    for split in chosen.splits:
        print(
            f"| {split.test_start:%Y-%m-%d} .. {split.test_end:%Y-%m-%d} | {split.train_rows} "
            f"| {split.test_rows} | {split.model.balanced_accuracy:.3f} | "
            f"{split.rules.balanced_accuracy:.3f} | {split.majority.balanced_accuracy:.3f} |"
        )

    ranked = sorted(info.feature_importances.items(), key=lambda item: -item[1])
    print(
        "\nPermutation importances (out of sample, normalised): "
        + ", ".join(f"{name} {weight:.2f}" for name, weight in ranked if weight > 0)
    )


def row(name: str, metrics: Any) -> None:
    print(
        f"| {name} | {metrics.accuracy:.3f} | {metrics.balanced_accuracy:.3f} | "
        f"{metrics.macro_f1:.3f} | {metrics.samples} |"
    )


def report_timings(training: Training, total: float) -> None:
    model = training.model
    started = time.perf_counter()
    blob = model.to_bytes()
    dumped = time.perf_counter() - started
    started = time.perf_counter()
    loaded = TrainedModel.from_bytes(blob)
    restored = time.perf_counter() - started
    series = training.dataset.series[0]
    latencies = []
    for _ in range(100):
        started = time.perf_counter()
        loaded.predict(series)
        latencies.append(time.perf_counter() - started)
    wf = training.walk_forward_seconds
    fit = training.final_fit_seconds
    print(
        f"\nTimings: walk-forward (all candidates) {wf:.1f} s (target < {WALK_FORWARD_TARGET:.0f},"
        f" ratio {wf / WALK_FORWARD_TARGET:.2f}); final fit {fit:.1f} s (target < "
        f"{FINAL_FIT_TARGET:.0f}, ratio {fit / FINAL_FIT_TARGET:.2f}); whole run {total:.1f} s."
    )
    for name, result in training.candidates.items():
        print(f"- walk-forward {name}: {result.seconds:.1f} s for {len(result.splits)} refits")
    print(
        f"- artifact {len(blob) / 1e6:.2f} MB, to_bytes {dumped:.2f} s, from_bytes "
        f"{restored:.2f} s; predict on {len(series)} closes p50 "
        f"{statistics.median(latencies) * 1000:.1f} ms (domain only, no API)"
    )


def leakage_check(training: Training, config: TrainingConfig) -> None:
    """The same estimators scored by shuffled 5-fold cross-validation: rows 5 days apart share
    most of their label's future, so shuffling leaks it. Not an evaluation: a warning sign."""
    from sklearn.metrics import balanced_accuracy_score  # type: ignore[import-untyped]
    from sklearn.model_selection import KFold, cross_val_predict  # type: ignore[import-untyped]

    from domain.signals._sklearn import _estimator, single_thread

    dataset = training.dataset
    print("\nLeakage contrast, shuffled 5-fold CV (wrong for time series), balanced accuracy:")
    for algorithm in config.algorithms:
        estimator = _estimator(algorithm, config.params(algorithm), config.random_state)
        with single_thread():
            predicted = cross_val_predict(
                estimator, dataset.x, dataset.y, cv=KFold(5, shuffle=True, random_state=0)
            )
        score = balanced_accuracy_score(dataset.y, predicted)
        walk = training.candidates[algorithm].model.balanced_accuracy
        print(f"- {algorithm}: shuffled {score:.3f} vs walk-forward {walk:.3f}")


if __name__ == "__main__":
    main()
