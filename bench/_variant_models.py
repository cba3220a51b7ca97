"""Experimental model variants for bench/signal_variants.py (development only, not the product).

Each variant plugs into the production fitter (`training._fit`: purged out-of-fold sigmoid
calibration, and the nested-threshold decision layer when asked), so only the one thing named
changes:

- extra estimators `spline` (standardise, cubic B-splines per feature with `knots` quantile
  knots, balanced logistic regression) and `poly` (standardise, degree-2 products, standardise,
  balanced logistic regression): non-linear terms with a linear model's few degrees of freedom;
- `recency_fitter`: sample weights halving every `half_life` training days back from the
  window's newest day (estimator and calibrator both weighted; no decision layer);
- `symbol_standardised`: every feature standardised per symbol with the mean and deviation of
  that symbol's rows *in the training window* (pooled statistics for a symbol with fewer than
  `min_rows` there), test rows transformed with the same numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from domain.signals import _sklearn
from domain.signals.positions import PositionedClassifier
from domain.signals.training import _fit, calibration_folds

_production_estimator = _sklearn._estimator
SPLINE_KNOTS = {"knots": 5}


def _estimator(algorithm, params, random_state):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures, SplineTransformer, StandardScaler

    params = dict(params)
    knots = int(params.pop("knots", SPLINE_KNOTS["knots"]))
    if algorithm == "spline":
        return Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "spline",
                    SplineTransformer(n_knots=knots, degree=3, knots="quantile"),
                ),
                ("classify", LogisticRegression(**params)),
            ]
        )
    if algorithm == "poly":
        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("poly", PolynomialFeatures(2, include_bias=False)),
                ("rescale", StandardScaler()),
                ("classify", LogisticRegression(**params)),
            ]
        )
    return _production_estimator(algorithm, params, random_state)


def install_estimators(knots: int) -> None:
    """Make `spline` and `poly` known to the production fitter (harness process only)."""
    SPLINE_KNOTS["knots"] = knots
    logistic = _sklearn.PARAMS[_sklearn.LOGISTIC_REGRESSION]
    _sklearn.PARAMS.setdefault("spline", dict(logistic))
    _sklearn.PARAMS.setdefault("poly", dict(logistic))
    _sklearn._estimator = _estimator


def recency_fitter(algorithm, config, half_life):
    """Fits calibrated like production, with sample weights 0.5 ** (days back / half_life)."""
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV

    sklearn.set_config(enable_metadata_routing=True)

    def fit(dataset, rows):
        folds = calibration_folds(dataset, rows, folds=config.calibration_folds)
        _, day = np.unique(dataset.time[rows], return_inverse=True)
        weights = 0.5 ** ((day.max() - day) / half_life)
        estimator = _estimator(algorithm, config.params(algorithm), config.random_state)
        if hasattr(estimator, "steps"):
            for name, step in estimator.steps:
                step.set_fit_request(sample_weight=name == "classify")
        else:
            estimator.set_fit_request(sample_weight=True)
        calibrated = CalibratedClassifierCV(
            estimator, method=config.calibration, cv=folds, ensemble=False
        )
        with _sklearn.single_thread():
            calibrated.fit(dataset.x[rows], dataset.y[rows], sample_weight=weights)
        return _sklearn.FittedEstimator(calibrated)

    return fit


def grid_fitter(algorithm, config, name, values, log):
    """Production fit for each value of one parameter; keeps the one whose out-of-fold
    (purged calibration folds, inside the training window) balanced accuracy is best, and
    takes its long/flat threshold from the same out-of-fold probabilities."""
    from domain.signals.labels import class_priors, decide
    from domain.signals.metrics import score_classes
    from domain.signals.positions import choose_threshold, lift_spread, next_day_returns

    def fit(dataset, rows):
        folds = calibration_folds(dataset, rows, folds=config.calibration_folds)
        x, y = dataset.x[rows], dataset.y[rows]
        priors = class_priors(y)
        best = None
        for value in values:
            params = {**config.params(algorithm), name: value}
            fitted = _sklearn.fit_calibrated(
                algorithm,
                params,
                x,
                y,
                folds,
                method=config.calibration,
                random_state=config.random_state,
            )
            held_out = _sklearn.out_of_fold_probabilities(
                fitted, algorithm, params, x, y, folds, random_state=config.random_state
            )
            score = score_classes(y, decide(held_out, priors)).balanced_accuracy
            if best is None or score > best[0]:
                best = (score, value, fitted, held_out)
        score, value, fitted, held_out = best
        log.append((value, round(score, 3)))
        if config.positions != "nested_threshold":
            return fitted
        spread = lift_spread(held_out, priors)
        threshold = choose_threshold(spread, next_day_returns(dataset, rows))
        return PositionedClassifier(fitted, threshold)

    return fit


class _RowLookup:
    """Predicts rows named by their dataset index (the last column) from transformed rows."""

    def __init__(self, inner, transformed):
        self.inner, self.transformed = inner, transformed

    def predict_proba(self, x):
        return self.inner.predict_proba(self.transformed[x[:, -1].astype(int)])


def with_row_ids(dataset):
    """The dataset with each row's index appended as a last column (for _RowLookup)."""
    ids = np.arange(len(dataset), dtype=float)[:, None]
    return dataclasses.replace(dataset, x=np.column_stack([dataset.x, ids]))


def symbol_standardised(algorithm, config, min_rows=250, keep_raw=False, inner_fit=None):
    """A fitter for a dataset from with_row_ids: per-symbol standardisation (training rows'
    statistics only), then `inner_fit` (the production fit by default)."""
    inner_fit = inner_fit or (lambda dataset, rows: _fit(algorithm, config, dataset, rows))

    def fit(dataset, rows):
        x = dataset.x[:, :-1]
        pooled_mean, pooled_std = x[rows].mean(axis=0), x[rows].std(axis=0)
        transformed = np.empty_like(x)
        for number in range(len(dataset.symbols)):
            everywhere = dataset.symbol == number
            mine = rows[dataset.symbol[rows] == number]
            mean, std = (
                (x[mine].mean(axis=0), x[mine].std(axis=0))
                if len(mine) >= min_rows
                else (pooled_mean, pooled_std)
            )
            transformed[everywhere] = (x[everywhere] - mean) / np.where(std > 0, std, 1.0)
        if keep_raw:
            transformed = np.column_stack([x, transformed])
        inner = inner_fit(dataclasses.replace(dataset, x=transformed), rows)
        if isinstance(inner, PositionedClassifier):
            return PositionedClassifier(_RowLookup(inner.classifier, transformed), inner.threshold)
        return _RowLookup(inner, transformed)

    return fit
