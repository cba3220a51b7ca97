"""A trained model as bytes: skops format, loaded with an explicit list of trusted types.

Never pickle: unpickling runs whatever code the bytes name. skops rebuilds only the types it
trusts by default (numpy, most of scikit-learn) plus those listed here, each reviewed:

- sklearn.calibration._CalibratedClassifier, _TemperatureScaling, _SigmoidCalibration: the
  calibration wrappers (plain attributes: a fitted estimator and calibrators).
- sklearn.utils._bunch.Bunch: a dict with attribute access (the ensemble's VotingClassifier
  keeps its fitted parts in one, `named_estimators_`).
- sklearn...TreePredictor: a boosted tree's node table, which sklearn's C code indexes
  without bounds checks. skops flags it for that reason; the loaded trees are therefore
  checked (children inside the tree, features inside the feature list) before use.
"""

from __future__ import annotations

import zipfile
from typing import Any

FORMAT = "stockql.signal-model/1"
TRUSTED_TYPES = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils._bunch.Bunch",
]


class ModelArtifactError(ValueError):
    """Bytes that are not a model artifact this code can safely load."""


def dump_artifact(info: str, estimator: Any) -> bytes:
    """`info` (the model's metadata as JSON) and the fitted estimator, zip-compressed."""
    import skops.io  # seconds to import: only when used

    payload = {"format": FORMAT, "info": info, "estimator": estimator}
    blob: bytes = skops.io.dumps(payload, compression=zipfile.ZIP_DEFLATED)
    return blob


def load_artifact(blob: bytes) -> tuple[str, Any]:
    """(info JSON, estimator) back from `dump_artifact`'s bytes. Raises ModelArtifactError
    on anything else, including a type outside the trusted ones."""
    import skops.io  # seconds to import: only when used

    try:
        payload = skops.io.loads(blob, trusted=TRUSTED_TYPES)
    except Exception as error:
        # skops raises UntrustedTypesFoundException, zipfile and JSON errors, KeyError...
        raise ModelArtifactError(f"not a loadable model artifact: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelArtifactError(f"not a {FORMAT} artifact")
    info = payload.get("info")
    if not isinstance(info, str):
        raise ModelArtifactError("the artifact has no model information")
    return info, payload.get("estimator")
