"""How much of a walk-forward score is noise: standard errors and bootstrap intervals.

    .venv/bin/python bench/signal_noise.py PREDICTIONS.npz [--against OTHER.npz]
        [--block-days 20] [--resamples 2000] [--seed 0]

PREDICTIONS.npz comes from `bench/signal_variants.py --save` (test rows of one walk-forward:
truth, the model's recommendations, RULES, the majority class, the model's long/flat
positions, closes, symbols, test blocks). Prints, as Markdown:

- pooled balanced accuracy of the model, RULES and the majority class with (a) the standard
  error if rows were independent, sqrt(sum_k r_k (1 - r_k) / n_k) / 3 over the three classes'
  recalls r_k, (b) a 95% interval from a block bootstrap over test days (consecutive blocks
  of `--block-days` days, every symbol's rows of a drawn day kept together; 5-day labels and
  slow features make neighbouring rows alike, so rows are not independent) and (c) a 95%
  interval from resampling the refit blocks (whole test periods, the test-period effect);
- per symbol: balanced accuracy MODEL - RULES and long/flat Sharpe MODEL - RULES (5 bp a
  trade), each with its block-bootstrap 95% interval (paired: the same days for both);
- with `--against`: the paired difference of the two files' pooled and per-symbol balanced
  accuracies (same test rows needed), i.e. whether a variant beats another beyond noise.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import numpy as np

from domain.signals.backtest import long_flat
from domain.signals.metrics import score_classes


def balanced_accuracy(truth, predicted):
    recalls = [np.mean(predicted[truth == k] == k) for k in range(3) if np.any(truth == k)]
    return float(np.mean(recalls))


def independent_se(truth, predicted):
    terms = []
    for k in range(3):
        mine = truth == k
        if mine.any():
            r = np.mean(predicted[mine] == k)
            terms.append(r * (1 - r) / mine.sum())
    return float(np.sqrt(np.sum(terms)) / len(terms))


def day_blocks(time, block_days):
    """Row indices per block of `block_days` consecutive test days (rows are in time order)."""
    _, day = np.unique(time, return_inverse=True)
    block = day // block_days
    return [np.flatnonzero(block == b) for b in range(block.max() + 1)]


def resample(blocks, rng):
    drawn = rng.integers(0, len(blocks), size=len(blocks))
    return np.concatenate([blocks[b] for b in drawn])


def interval(values):
    low, high = np.percentile(values, [2.5, 97.5])
    return f"[{low:+.3f}, {high:+.3f}]" if low < 0 or high < 0 else f"[{low:.3f}, {high:.3f}]"


def strategy_returns(data, rows, positions):
    stamps = tuple(datetime.fromtimestamp(int(t), UTC) for t in data["time"][rows])
    curve = long_flat(stamps, data["close"][rows], positions, cost_bps=5).curve
    equity = np.array([point.equity for point in curve])
    daily = np.zeros(len(equity))
    daily[1:] = equity[1:] / equity[:-1] - 1.0
    return daily


def sharpe(daily):
    deviation = np.std(daily, ddof=1)
    return float(np.mean(daily) / deviation * np.sqrt(252)) if deviation > 0 else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("predictions")
    parser.add_argument("--against", default=None)
    parser.add_argument("--block-days", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = np.load(args.predictions)
    other = np.load(args.against) if args.against else None
    rng = np.random.default_rng(args.seed)
    truth = data["truth"]
    predictors = {name: data[name] for name in ("model", "rules", "majority")}
    blocks = day_blocks(data["time"], args.block_days)
    splits = [np.flatnonzero(data["split"] == s) for s in np.unique(data["split"])]
    draws = [resample(blocks, rng) for _ in range(args.resamples)]
    split_draws = [resample(splits, rng) for _ in range(args.resamples)]

    print(
        f"{len(truth)} test rows, {len(blocks)} blocks of {args.block_days} days, "
        f"{len(splits)} refit blocks, {args.resamples} resamples\n"
    )
    print(
        "| predictor | balanced accuracy | SE if rows independent | 95% day-block bootstrap "
        "| 95% refit-block bootstrap |"
    )
    print("|---|---|---|---|---|")
    for name, predicted in predictors.items():
        day_boot = [balanced_accuracy(truth[d], predicted[d]) for d in draws]
        split_boot = [balanced_accuracy(truth[d], predicted[d]) for d in split_draws]
        print(
            f"| {name} | {balanced_accuracy(truth, predicted):.4f} | "
            f"{independent_se(truth, predicted):.4f} | {interval(day_boot)} (SE "
            f"{np.std(day_boot):.4f}) | {interval(split_boot)} (SE {np.std(split_boot):.4f}) |"
        )

    def margin(rows):
        return balanced_accuracy(truth[rows], data["model"][rows]) - balanced_accuracy(
            truth[rows], data["rules"][rows]
        )

    everything = np.arange(len(truth))
    boot = [margin(d) for d in draws]
    print(f"| model - RULES | {margin(everything):+.4f} | | {interval(boot)} | |")

    print("\n| symbol | BA model - RULES | 95% interval | Sharpe model - RULES | 95% interval |")
    print("|---|---|---|---|---|")
    for number, symbol in enumerate(data["symbols"].tolist()):
        rows = np.flatnonzero(data["symbol"] == number)
        local_blocks = day_blocks(data["time"][rows], args.block_days)
        t, m, r = truth[rows], data["model"][rows], data["rules"][rows]
        model_daily = strategy_returns(data, rows, data["positions"][rows])
        rules_daily = strategy_returns(data, rows, data["rules"][rows])
        ba_boot, sharpe_boot = [], []
        for _ in range(args.resamples):
            d = resample(local_blocks, rng)
            ba_boot.append(balanced_accuracy(t[d], m[d]) - balanced_accuracy(t[d], r[d]))
            sharpe_boot.append(sharpe(model_daily[d]) - sharpe(rules_daily[d]))
        print(
            f"| {symbol} | {balanced_accuracy(t, m) - balanced_accuracy(t, r):+.4f} | "
            f"{interval(ba_boot)} | {sharpe(model_daily) - sharpe(rules_daily):+.2f} | "
            f"{interval(sharpe_boot)} |"
        )

    if other is not None:
        if not np.array_equal(other["time"], data["time"]) or not np.array_equal(
            other["symbol"], data["symbol"]
        ):
            raise SystemExit("the two files do not hold the same test rows")
        print(f"\n| paired: this - {args.against} | difference | 95% day-block bootstrap |")
        print("|---|---|---|")
        scopes = [("pooled", np.arange(len(truth)))] + [
            (symbol, np.flatnonzero(data["symbol"] == number))
            for number, symbol in enumerate(data["symbols"].tolist())
        ]
        for scope, rows in scopes:
            local_blocks = day_blocks(data["time"][rows], args.block_days)
            t, a, b = truth[rows], data["model"][rows], other["model"][rows]
            boot = []
            for _ in range(args.resamples):
                d = resample(local_blocks, rng)
                boot.append(balanced_accuracy(t[d], a[d]) - balanced_accuracy(t[d], b[d]))
            print(
                f"| {scope} | {balanced_accuracy(t, a) - balanced_accuracy(t, b):+.4f} | "
                f"{interval(boot)} |"
            )
    assert (
        abs(
            score_classes(truth, data["model"]).balanced_accuracy
            - balanced_accuracy(truth, data["model"])
        )
        < 1e-9
    )


if __name__ == "__main__":
    main()
