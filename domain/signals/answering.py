"""Who answers a prediction: the active model when it can, else the RULES, saying why.

The model needs `required_history()` closes (200), volumes when it was trained on them, and
a horizon equal to its own; the rules need RULES_MIN_POINTS closes. A series the model
cannot take is answered by the rules with a `MODEL_FALLBACK_*` reason, so that a caller
never mistakes a rules answer for the model's.
"""

from __future__ import annotations

from dataclasses import replace

from domain.signals.model import TrainedModel
from domain.signals.prices import InsufficientData, PriceSeries
from domain.signals.recommendations import Reason, Signal
from domain.signals.rules import rules_signal

# The rules need a MACD cross (12/26/9: 35 closes) to say anything but HOLD.
RULES_MIN_POINTS = 35


def answer(
    series: PriceSeries,
    *,
    horizon_days: int,
    model: TrainedModel | None,
    unloadable_version: str | None = None,
) -> Signal:
    """The model's signal for the last point of `series` when `model` can answer, else the
    RULES signal with a reason why the model did not. `unloadable_version` names an active
    model this process could not load (its reason is given when `model` is None).
    `horizon_days` is in trading days. Raises InsufficientData when even the rules cannot
    answer (fewer than RULES_MIN_POINTS points)."""
    fallback: Reason | None = None
    if model is None:
        if unloadable_version is not None:
            fallback = Reason(
                "MODEL_FALLBACK_UNLOADABLE",
                f"The active model {unloadable_version} cannot be loaded by this server "
                "(see its log): the rules answered",
            )
    else:
        fallback = _why_not(model, series, horizon_days)
        if fallback is None:
            return model.predict(model_input(model, series))
    if len(series) < RULES_MIN_POINTS:
        raise InsufficientData(required=RULES_MIN_POINTS, available=len(series))
    signal = rules_signal(series, horizon_days=horizon_days)
    return signal if fallback is None else with_reasons(signal, fallback)


def with_reasons(signal: Signal, *reasons: Reason) -> Signal:
    """`signal` with `reasons` after its own."""
    return replace(signal, reasons=(*signal.reasons, *reasons))


def _why_not(model: TrainedModel, series: PriceSeries, horizon_days: int) -> Reason | None:
    """Why `model` cannot answer for `series`, or None when it can."""
    version = model.version
    if horizon_days != model.info.horizon_days:
        return Reason(
            "MODEL_FALLBACK_HORIZON",
            f"The active model {version} predicts {model.info.horizon_days} trading days "
            f"ahead, not {horizon_days}: the rules answered",
        )
    if model.info.uses_volume and series.volume is None:
        return Reason(
            "MODEL_FALLBACK_VOLUME",
            f"The active model {version} needs daily volumes, which supplied points lack: "
            "the rules answered",
        )
    required = model.features.required_history()
    if len(series) < required:
        return Reason(
            "MODEL_FALLBACK_HISTORY",
            f"The active model {version} needs {required} daily closes, {len(series)} "
            "are available: the rules answered",
        )
    return None


def model_input(model: TrainedModel, series: PriceSeries) -> PriceSeries:
    """`series` as `model` takes it: without volumes unless it was trained on them."""
    return series if model.info.uses_volume else series.without_volume()
