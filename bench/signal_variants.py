"""Variants of the signal model tried for issue 18, walk-forward on the bokeh sample stocks.

    .venv/bin/python bench/signal_variants.py [--symbols AAPL IBM MSFT GOOG]
        [--algorithms logistic_regression|gradient_boosting|ensemble|spline|poly] [--horizon 5]
        [--threshold 0.01] [--C 0.05] [--volume]
        [--extra regime,regime250,market,volz,logvol,warmupN,zrollN,zexp]
        [--decision lift|raw|nested|production] [--min-train 500] [--refit-every 250]
        [--knots 5] [--gb name=value,...] [--grid name=v1/v2/...] [--recency HALF_LIFE]
        [--standardise pooled|symbol|symbol+raw] [--save PREDICTIONS.npz]

A development harness, not the product: it builds the production dataset (close-only
features, fixed thresholds), optionally appends experimental feature columns, and runs the
production walk-forward and fitter (`training._fitter`: purged out-of-fold calibration) on it,
printing pooled and per-symbol balanced accuracy (model / RULES / majority) and long/flat
Sharpe and return (model / RULES / buy-and-hold, 5 bp a trade).

- `--extra` columns (all causal, from closes up to t): `regime` = vol20/vol60 - 1 and vol60 over
  its 120-day mean - 1; `regime250` = the same with the 250-day median (needs 310 points, so it
  drops the first 110 rows of each symbol); `warmup310` drops the same rows and adds nothing
  (the fair baseline for `regime250`); `market` = return_5d and return_20d minus the pool's
  mean on that day, vol20 over the pool's mean - 1, the pool's return_20d and vol20 (the pool
  is the symbols given; a series alone cannot compute it); `volz` = threshold / (vol_k
  sqrt(horizon)) for k = 5, 10, 20, 60, 120 and vol5, vol10, vol120; `logvol` = log vol_k.
- `--decision`: `lift` = the production recommendations (labels.decide) drive long/flat;
  `raw` = the balanced-weight estimator uncalibrated, its argmax; `nested` = a prototype of the
  decision layer with inner refits per training window (slow); `production` = the production
  nested-threshold layer (positions.py).
- `--algorithms ensemble`: the mean of the calibrated logistic and boosting probabilities;
  `spline` and `poly`: logistic regression on cubic B-splines (`--knots` per feature) or on
  degree-2 products of the standardised features (bench/_variant_models.py).
- `--extra warmupN` drops each symbol's rows before point N and adds nothing (the fair
  baseline of a variant that needs N points); `zrollN` / `zexp` replace every feature by its
  z-score against the same series' trailing N rows / every row so far (from 250 rows on).
- `--gb`: HistGradientBoosting keyword overrides; `--grid`: one parameter's values, the one
  with the best out-of-fold balanced accuracy inside each training window is used (nested,
  never the test block); `--recency`: sample weights halving every HALF_LIFE training days
  back; `--standardise symbol`: features standardised per symbol with that symbol's training
  rows' means and deviations (`symbol+raw` keeps the raw features too).
- `--save`: the test rows and every predictor's output, for bench/signal_noise.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np
from _variant_models import (
    grid_fitter,
    install_estimators,
    recency_fitter,
    symbol_standardised,
    with_row_ids,
)
from evaluate_signals import sample_series

from domain.signals._rolling import return_volatility
from domain.signals.backtest import buy_and_hold, long_flat
from domain.signals.dataset import build_dataset
from domain.signals.features import FeatureSet
from domain.signals.labels import BUY, SELL, LabelRule, class_priors
from domain.signals.metrics import score_classes
from domain.signals.training import (
    TrainingConfig,
    _fitter,
    calibration_folds,
)
from domain.signals.walk_forward import walk_forward, walk_forward_splits


def regime_columns(series):
    from domain.signals._rolling import rolling_mean

    close = series.close
    v20 = return_volatility(close, 20)
    v60 = return_volatility(close, 60)
    return np.column_stack([v20 / v60 - 1.0, v60 / rolling_mean(v60, 120) - 1.0])


def per_row(dataset, per_series):
    """Each row's values from its symbol's per-point columns."""
    return np.array(
        [per_series[s][p] for s, p in zip(dataset.symbol, dataset.position, strict=True)]
    )


def extra_columns(dataset, extras):
    cols = []
    if "regime" in extras:
        per = [regime_columns(s) for s in dataset.series]
        cols.append(per_row(dataset, per))
    if "regime250" in extras:
        per = []
        for series in dataset.series:
            close = series.close
            v20 = return_volatility(close, 20)
            v60 = return_volatility(close, 60)
            med = np.full(len(close), np.nan)
            for t in range(250 + 60, len(close)):
                med[t] = np.median(v60[t - 249 : t + 1])
            per.append(np.column_stack([v20 / v60 - 1.0, v60 / med - 1.0]))
        cols.append(per_row(dataset, per))
    for extra in extras:
        if extra.startswith("warmup"):
            first = int(extra.removeprefix("warmup"))
            cols.append(np.where(dataset.position >= first, 0.0, np.nan)[:, None])
    for extra in extras:
        if extra.startswith(("zroll", "zexp")):
            window = int(extra.removeprefix("zroll")) if extra.startswith("zroll") else 0
            per = [causal_zscores(dataset.features.compute(s), window) for s in dataset.series]
            cols.append(per_row(dataset, per))
    if "market" in extras:
        names = dataset.features.names
        r5, r20, v20 = (names.index(n) for n in ("return_5d", "return_20d", "volatility_20d"))
        x = dataset.x
        _, inverse = np.unique(dataset.time, return_inverse=True)

        def pool(col):
            sums = np.bincount(inverse, weights=x[:, col])
            counts = np.bincount(inverse)
            return (sums / counts)[inverse]

        p5, p20, pv = pool(r5), pool(r20), pool(v20)
        cols.append(
            np.column_stack([x[:, r5] - p5, x[:, r20] - p20, x[:, v20] / pv - 1.0, p20, pv])
        )
    if "volz" in extras:
        h = dataset.label_rule.horizon
        thr = dataset.label_rule.threshold
        per = []
        for series in dataset.series:
            c = []
            for w in (5, 10, 20, 60, 120):
                v = return_volatility(series.close, w)
                c.append(thr / (v * np.sqrt(h) + 1e-9))
            for w in (5, 10, 120):
                c.append(return_volatility(series.close, w))
            per.append(np.column_stack(c))
        cols.append(per_row(dataset, per))
    if "logvol" in extras:
        per = []
        for series in dataset.series:
            per.append(
                np.column_stack(
                    [
                        np.log(return_volatility(series.close, w) + 1e-6)
                        for w in (5, 10, 20, 60, 120)
                    ]
                )
            )
        cols.append(per_row(dataset, per))
    if not cols:
        return dataset
    extra = np.column_stack(cols)
    keep = np.isfinite(extra).all(axis=1)
    idx = np.flatnonzero(keep)
    fields = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(dataset)}
    out = {}
    for k, v in fields.items():
        if isinstance(v, np.ndarray) and len(v) == len(dataset):
            out[k] = v[idx]
        else:
            out[k] = v
    # Replacing variants (z-scores) take the place of the features instead of adding to them.
    if any(e.startswith(("zroll", "zexp")) for e in extras):
        extra = extra[:, -dataset.x.shape[1] :]
        out["x"] = extra[idx]
    else:
        out["x"] = np.column_stack([dataset.x, extra])[idx]
    return dataclasses.replace(dataset, **out)


def causal_zscores(features, window):
    """Each feature column as its z-score against the same series' past values (the trailing
    `window` rows, or every row so far when window is 0, from 250 rows on): causal."""
    out = np.full_like(features, np.nan)
    valid = np.flatnonzero(np.isfinite(features).all(axis=1))
    if len(valid) == 0:
        return out
    start = valid[0]
    values = features[start:]
    if window:
        from domain.signals._rolling import rolling_mean, rolling_std

        mean = np.column_stack([rolling_mean(c, window) for c in values.T])
        std = np.column_stack([rolling_std(c, window) for c in values.T])
    else:
        count = np.arange(1, len(values) + 1)[:, None]
        mean = np.cumsum(values, axis=0) / count
        square = np.cumsum(values**2, axis=0) / count
        std = np.sqrt(np.maximum(square - mean**2, 0.0) * count / np.maximum(count - 1, 1))
        mean[:249], std[:249] = np.nan, np.nan
    out[start:] = (values - mean) / np.where(std > 0, std, np.nan)
    return out


def nested_positions(dataset, result, fit, config):
    """Per split: OOF calibrated probabilities over the training window (purged folds), the
    long/flat threshold on lift(BUY) - lift(SELL) maximising pooled training Sharpe."""
    splits = walk_forward_splits(
        dataset.time,
        dataset.label_end,
        min_train_days=config.min_train_days,
        refit_every_days=config.refit_every_days,
    )
    next_return = np.full(len(dataset), np.nan)
    for number, series in enumerate(dataset.series):
        mine = np.flatnonzero(dataset.symbol == number)
        pos = dataset.position[mine]
        ok = pos + 1 < len(series.close)
        next_return[mine[ok]] = series.close[pos[ok] + 1] / series.close[pos[ok]] - 1
    positions = []
    start = 0
    thresholds = []
    for split in splits:
        rows = split.train
        priors = class_priors(dataset.y[rows])
        oof = np.zeros((len(rows), 3))
        for inner_fit, held in calibration_folds(dataset, rows, folds=config.calibration_folds):
            model = fit(dataset, rows[inner_fit])
            oof[held] = model.predict_proba(dataset.x[rows[held]])
        score = oof[:, BUY] / priors[BUY] - oof[:, SELL] / priors[SELL]
        r = np.nan_to_num(next_return[rows])
        best, best_tau = -np.inf, 0.0
        for tau in np.quantile(score, np.linspace(0.0, 0.9, 19)):
            held_long = (score > tau).astype(float)
            daily = held_long * r
            sharpe = daily.mean() / (daily.std() + 1e-12)
            if sharpe > best:
                best, best_tau = sharpe, tau
        thresholds.append(round(float(best_tau), 3))
        n = len(split.test)
        p = result.probabilities[start : start + n]
        start += n
        test_score = p[:, BUY] / priors[BUY] - p[:, SELL] / priors[SELL]
        positions.append(np.where(test_score > best_tau, BUY, SELL).astype(np.int8))
    print("nested thresholds:", thresholds)
    return np.concatenate(positions)


class Mean:
    def __init__(self, models):
        self.models = models

    def predict_proba(self, x):
        return np.mean([m.predict_proba(x) for m in self.models], axis=0)


def ensemble_fitter(config):
    a, b = _fitter("logistic_regression", config), _fitter("gradient_boosting", config)
    return lambda dataset, rows: Mean([a(dataset, rows), b(dataset, rows)])


class Raw:
    def __init__(self, est, priors):
        self.est, self.priors = est, priors

    def predict_proba(self, x):
        from domain.signals._sklearn import single_thread

        with single_thread():
            return self.est.predict_proba(x) * self.priors


def raw_fitter(algorithm, config):
    from domain.signals._sklearn import _estimator, single_thread

    def fit(dataset, rows):
        est = _estimator(algorithm, config.params(algorithm), 0)
        with single_thread():
            est.fit(dataset.x[rows], dataset.y[rows])
        return Raw(est, class_priors(dataset.y[rows]))

    return fit


def save_predictions(path, algorithm, dataset, result, positions, *, several):
    """The walk-forward's test rows with what each predictor said, for bench/signal_noise.py
    (one file per algorithm when `several` are run: PATH-ALGORITHM.npz)."""
    tested = result.test_rows
    split_of = np.concatenate(
        [np.full(score.test_rows, number) for number, score in enumerate(result.splits)]
    )
    np.savez(
        path.removesuffix(".npz") + f"-{algorithm}.npz" if several else path,
        symbols=np.array(dataset.symbols),
        symbol=dataset.symbol[tested],
        time=dataset.time[tested],
        truth=dataset.y[tested],
        model=result.predicted,
        rules=dataset.rules[tested],
        majority=result.majority,
        positions=positions,
        close=dataset.close[tested],
        split=split_of,
    )


def parse_value(text):
    """A parameter value from the command line: None, a float (with a dot) or an int."""
    return None if text == "None" else float(text) if "." in text else int(text)


def overrides(args):
    """Per-algorithm sklearn keyword overrides from --C and --gb."""
    found = {}
    if args.C:
        found.update({name: {"C": args.C} for name in ("logistic_regression", "spline", "poly")})
    if args.gb:
        pairs = (item.split("=") for item in args.gb.split(","))
        found["gradient_boosting"] = {name: parse_value(value) for name, value in pairs}
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", nargs="+", default=["AAPL", "IBM", "MSFT", "GOOG"])
    parser.add_argument("--algorithms", default="logistic_regression")
    parser.add_argument("--extra", default="")
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=0.01)
    parser.add_argument("--decision", default="lift")
    parser.add_argument("--volume", action="store_true")
    parser.add_argument("--C", type=float, default=None)
    parser.add_argument("--min-train", type=int, default=500)
    parser.add_argument("--refit-every", type=int, default=250)
    parser.add_argument("--knots", type=int, default=5, help="spline knots per feature")
    parser.add_argument("--gb", default="", help="boosting overrides: name=value,...")
    parser.add_argument("--recency", type=float, default=0, help="half-life in trading days")
    parser.add_argument(
        "--standardise", choices=["pooled", "symbol", "symbol+raw"], default="pooled"
    )
    parser.add_argument("--grid", default="", help="name=v1/v2/...: chosen per training window")
    parser.add_argument("--save", default=None, help="write the test predictions to this .npz")
    args = parser.parse_args()
    print("#", " ".join(sys.argv[1:]))
    histories = {s: sample_series(s) for s in args.symbols}
    config = TrainingConfig(
        label_rule=LabelRule(horizon=args.horizon, threshold=args.threshold),
        features=FeatureSet(volume=args.volume),
        overrides=overrides(args),
        positions="nested_threshold" if args.decision == "production" else "recommendation",
        min_train_days=args.min_train,
        refit_every_days=args.refit_every,
    )
    dataset = build_dataset(histories, features=config.features, label_rule=config.label_rule)
    dataset = extra_columns(dataset, set(filter(None, args.extra.split(","))))
    install_estimators(args.knots)
    if args.standardise != "pooled":
        dataset = with_row_ids(dataset)
    counts = np.bincount(dataset.y, minlength=3) / len(dataset)
    print(f"rows {len(dataset)} features {dataset.x.shape[1]} labels S/H/B {counts.round(3)}")
    for algorithm in args.algorithms.split(","):
        started = time.perf_counter()
        fit = _fitter(algorithm, config) if algorithm != "ensemble" else ensemble_fitter(config)
        if args.decision == "raw":
            fit = raw_fitter(algorithm, config)
        if args.recency:
            fit = recency_fitter(algorithm, config, args.recency)
        chosen_values = []
        if args.grid:
            name, values = args.grid.split("=")
            grid = [parse_value(value) for value in values.split("/")]
            fit = grid_fitter(algorithm, config, name, grid, chosen_values)
        if args.standardise != "pooled":
            fit = symbol_standardised(
                algorithm,
                config,
                keep_raw=args.standardise == "symbol+raw",
                inner_fit=fit if args.grid else None,
            )
        result = walk_forward(
            dataset,
            fit,
            min_train_days=config.min_train_days,
            refit_every_days=config.refit_every_days,
        )
        if chosen_values:
            print("chosen per window (value, out-of-fold balanced accuracy):", chosen_values)
        tested = result.test_rows
        truth = dataset.y[tested]
        pooled = (result.model, result.rules, result.majority_metrics)
        print(
            f"{algorithm}: BA {' / '.join(f'{m.balanced_accuracy:.3f}' for m in pooled)} "
            f"(model / RULES / majority), log loss {result.log_loss:.4f} vs base rates "
            f"{result.base_rate_log_loss:.4f} ({time.perf_counter() - started:.0f} s)"
        )
        positions = result.positions
        if args.decision == "nested":
            positions = nested_positions(dataset, result, fit, config)
        if args.save:
            several = "," in args.algorithms
            save_predictions(args.save, algorithm, dataset, result, positions, several=several)
        for number, symbol in enumerate(dataset.symbols):
            mine = np.flatnonzero(dataset.symbol[tested] == number)
            rows = tested[mine]
            stamps = tuple(
                dataset.series[number].timestamps[p] for p in dataset.position[rows].tolist()
            )
            close = dataset.close[rows]
            m = long_flat(stamps, close, positions[mine], cost_bps=5).metrics
            ru = long_flat(stamps, close, dataset.rules[rows], cost_bps=5).metrics
            bh = buy_and_hold(stamps, close, cost_bps=5).metrics
            ba = score_classes(truth[mine], result.predicted[mine]).balanced_accuracy
            rba = score_classes(truth[mine], dataset.rules[rows]).balanced_accuracy
            mba = score_classes(truth[mine], result.majority[mine]).balanced_accuracy
            print(
                f"  {symbol}: BA model {ba:.4f} rules {rba:.4f} majority {mba:.3f} | Sharpe "
                f"model {m.sharpe:.2f} rules {ru.sharpe:.2f} bh {bh.sharpe:.2f} | return model "
                f"{m.total_return:+.0%} rules {ru.total_return:+.0%} bh {bh.total_return:+.0%} "
                f"exposure {m.exposure:.0%}"
            )


if __name__ == "__main__":
    main()
