"""The only place that touches scikit-learn and threadpoolctl, which ship no type information:
their Any stays inside these small typed functions.

scikit-learn is imported by the functions that use it, not at module level: it takes seconds
to import, and the API and worker processes need it only once a model is trained or loaded.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from domain.signals.labels import CLASS_ORDER, ClassArray
from domain.signals.prices import FloatArray

IntArray = npt.NDArray[np.intp]
CLASS_CODES = list(range(len(CLASS_ORDER)))

LOGISTIC_REGRESSION = "logistic_regression"
GRADIENT_BOOSTING = "gradient_boosting"
# Soft vote of the two (their balanced-weight probabilities averaged), calibrated as one.
ENSEMBLE = "ensemble"
ALGORITHMS = (LOGISTIC_REGRESSION, GRADIENT_BOOSTING)
KNOWN_ALGORITHMS = (*ALGORITHMS, ENSEMBLE)

Params = dict[str, float | int | str | bool]

# Chosen once, by hand, for daily data with a few thousand rows per symbol: strong
# regularisation, because the signal is weak and noise is easy to fit. "balanced" class
# weights make the rarest label (often HOLD) count as much as the others while fitting; the
# sigmoid calibration then brings the probabilities back to the real base rates.
PARAMS: dict[str, Params] = {
    LOGISTIC_REGRESSION: {"C": 0.05, "class_weight": "balanced", "max_iter": 2000},
    GRADIENT_BOOSTING: {
        # 0.02 rather than 0.05: +0.011 pooled walk-forward balanced accuracy on the four
        # bokeh symbols, repeated at three other refit schedules, and chosen by every training
        # window itself when offered 0.02 / 0.05 (docs/SIGNALS.md, issue 18 variants).
        "learning_rate": 0.02,
        "max_iter": 150,
        "max_depth": 3,
        "min_samples_leaf": 200,
        "l2_regularization": 1.0,
        "class_weight": "balanced",
        # sklearn's early stopping holds out a random (not time-ordered) validation split.
        "early_stopping": False,
    },
}


class Classifier(Protocol):
    """A fitted classifier whose probability columns are SELL, HOLD, BUY."""

    def predict_proba(self, features: FloatArray) -> FloatArray: ...


class FittedEstimator:
    """A fitted sklearn estimator (possibly calibrated) behind a typed face."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def predict_proba(self, features: FloatArray) -> FloatArray:
        with single_thread():
            probabilities = self.estimator.predict_proba(features)
        return np.asarray(probabilities, dtype=np.float64)


def library_versions() -> dict[str, str]:
    import sklearn
    import skops

    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "skops": skops.__version__,
    }


def fit_calibrated(
    algorithm: str,
    params: Params,
    features: FloatArray,
    classes: ClassArray,
    calibration_folds: Sequence[tuple[IntArray, IntArray]],
    *,
    method: str,
    random_state: int,
) -> FittedEstimator:
    """Fit `algorithm` with `params` (sklearn keyword arguments) on every row and calibrate
    it on out-of-fold predictions: each (train, held-out) fold fits a copy on `train` and
    predicts `held-out`; the held-out blocks must partition the rows (cross_val_predict),
    and the calibrator is fitted on those predictions (CalibratedClassifierCV with
    ensemble=False). So the newest rows train the estimator that predicts."""
    from sklearn.calibration import CalibratedClassifierCV

    calibrated = CalibratedClassifierCV(
        _estimator(algorithm, params, random_state),
        method=method,
        cv=list(calibration_folds),
        ensemble=False,
    )
    with single_thread():
        calibrated.fit(features, classes)
    if list(calibrated.classes_) != CLASS_CODES:
        raise ValueError(f"training rows must hold all three classes, not {calibrated.classes_}")
    return FittedEstimator(calibrated)


def out_of_fold_probabilities(
    fitted: FittedEstimator,
    algorithm: str,
    params: Params,
    features: FloatArray,
    classes: ClassArray,
    calibration_folds: Sequence[tuple[IntArray, IntArray]],
    *,
    random_state: int,
) -> FloatArray:
    """The calibrated probabilities of `fitted` (from fit_calibrated on the same rows and
    folds, sigmoid or isotonic) for each row as predicted by a copy that did not train on
    it: the out-of-fold raw scores again (cross_val_predict; deterministic, so the ones the
    calibrator learnt from), through the fitted calibrators, normalised like sklearn does."""
    from sklearn.model_selection import cross_val_predict

    with single_thread():
        raw = cross_val_predict(
            _estimator(algorithm, params, random_state),
            features,
            classes,
            cv=list(calibration_folds),
            # What CalibratedClassifierCV calibrates: decision_function when there is one.
            method="predict_proba" if algorithm == ENSEMBLE else "decision_function",
        )
    (pair,) = fitted.estimator.calibrated_classifiers_
    if pair.method not in ("sigmoid", "isotonic"):
        raise ValueError(
            f"out-of-fold probabilities need one-vs-rest calibration, not {pair.method}"
        )
    columns = [calibrator.predict(raw[:, k]) for k, calibrator in enumerate(pair.calibrators)]
    proba = np.column_stack(columns)
    total = proba.sum(axis=1, keepdims=True)
    uniform = np.full_like(proba, 1.0 / proba.shape[1])
    normalised: FloatArray = np.divide(proba, total, out=uniform, where=total != 0)
    return normalised


def classification_scores(truth: ClassArray, predicted: ClassArray) -> tuple[float, float, float]:
    """(accuracy, balanced accuracy, macro F1) as fractions in 0..1."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
    )

    with warnings.catch_warnings():
        # balanced_accuracy warns when a predicted class is absent from the truth, which
        # short test periods can give; the score is still defined (over the true classes).
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return (
            float(accuracy_score(truth, predicted)),
            float(balanced_accuracy_score(truth, predicted)),
            float(f1_score(truth, predicted, labels=CLASS_CODES, average="macro", zero_division=0)),
        )


@contextmanager
def single_thread() -> Iterator[None]:
    """BLAS and OpenMP limited to one thread: on the 2-core machines this runs on,
    HistGradientBoosting ran ~18x slower with its default thread count, and one-row
    predictions pay for starting threads they do not need."""
    with _controller().limit(limits=1):
        yield


@cache
def _controller() -> Any:
    # Finding the loaded thread pools scans every shared library: do it once per process,
    # after sklearn (and its OpenMP runtime) is imported.
    import sklearn  # noqa: F401
    import threadpoolctl

    return threadpoolctl.ThreadpoolController()


def _estimator(algorithm: str, params: Params, random_state: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if algorithm == LOGISTIC_REGRESSION:
        # Scaling inside the pipeline: its means and deviations come from training rows only.
        return Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(**params))])
    if algorithm == GRADIENT_BOOSTING:
        return HistGradientBoostingClassifier(**params, random_state=random_state)
    if algorithm == ENSEMBLE:
        from sklearn.ensemble import VotingClassifier

        parts = [
            (part, _estimator(part, ensemble_part(params, part), random_state))
            for part in ALGORITHMS
        ]
        return VotingClassifier(parts, voting="soft")
    raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(KNOWN_ALGORITHMS)}")


def ensemble_params(parts: dict[str, Params]) -> Params:
    """One flat dict of the ensemble's part parameters, keyed "part__name"."""
    return {
        f"{part}__{name}": value for part, values in parts.items() for name, value in values.items()
    }


def ensemble_part(params: Params, part: str) -> Params:
    """The parameters of one part of an ensemble_params dict."""
    prefix = f"{part}__"
    return {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}


def check_estimator(estimator: Any, n_features: int) -> FittedEstimator:
    """Refuse a loaded estimator that is not what fit_calibrated builds, or whose boosted
    trees could make sklearn's unchecked C code read out of bounds or loop: every split node
    must name a feature below `n_features` and children after itself, and no node may be
    categorical (these models never use categorical features). Raises ValueError."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
    from sklearn.pipeline import Pipeline

    if not isinstance(estimator, CalibratedClassifierCV):
        raise ValueError(f"expected a calibrated classifier, not {type(estimator).__name__}")
    if [int(code) for code in estimator.classes_] != CLASS_CODES:
        raise ValueError(f"unexpected classes {estimator.classes_!r}")
    for pair in estimator.calibrated_classifiers_:
        inner = pair.estimator
        parts = inner.estimators_ if isinstance(inner, VotingClassifier) else [inner]
        for part in parts:
            if isinstance(part, HistGradientBoostingClassifier):
                for iteration in part._predictors:
                    for predictor in iteration:
                        _check_nodes(predictor.nodes, n_features)
            elif not isinstance(part, Pipeline):
                raise ValueError(f"unexpected estimator {type(part).__name__}")
    return FittedEstimator(estimator)


def _check_nodes(nodes: Any, n_features: int) -> None:
    from sklearn.ensemble._hist_gradient_boosting.common import (
        PREDICTOR_RECORD_DTYPE,
    )

    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        raise ValueError("tree nodes have an unexpected layout")
    splits = np.flatnonzero(nodes["is_leaf"] == 0)
    count = len(nodes)
    if (
        (nodes["is_categorical"] != 0).any()
        or (nodes["feature_idx"][splits] < 0).any()
        or (nodes["feature_idx"][splits] >= n_features).any()
        or (nodes["left"][splits] <= splits).any()
        or (nodes["right"][splits] <= splits).any()
        or (nodes["left"][splits] >= count).any()
        or (nodes["right"][splits] >= count).any()
    ):
        raise ValueError("tree nodes point outside the tree or the features")
