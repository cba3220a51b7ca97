"""Training the signal model on stored history and making it the active one."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date

from app.daemon_threads import in_daemon_thread
from app.runtime import Runtime
from domain.market import Interval
from domain.signals.model import TrainedModel
from domain.signals.prices import PriceSeries
from domain.signals.training import Progress, TrainingConfig, train_model

log = logging.getLogger(__name__)


async def load_histories(
    runtime: Runtime, symbols: Iterable[str], *, first: date | None, last: date | None
) -> dict[str, PriceSeries]:
    """Each symbol's stored daily closes (fetched when missing) within [first, last]."""
    histories = {}
    for symbol in symbols:
        stored = await runtime.services.history.stored_series(symbol, Interval.DAILY)
        histories[symbol] = between(PriceSeries.from_bars(stored.series), first, last)
    return histories


async def train_and_store(
    runtime: Runtime,
    histories: dict[str, PriceSeries],
    config: TrainingConfig,
    *,
    activate: bool = True,
    progress: Progress | None = None,
) -> TrainedModel:
    """Train off the event loop (it takes minutes), then store the model (and activate it).
    A process told to stop meanwhile exits without waiting for the training."""
    training = await in_daemon_thread(
        lambda: train_model(histories, config, progress=progress), name="stockql-training"
    )
    await runtime.services.predictions.save_model(training.model, activate=activate)
    return training.model


async def retrain_model(runtime: Runtime) -> None:
    """The worker's scheduled retraining on the tracked symbols' full stored history."""
    histories = await load_histories(runtime, runtime.settings.symbols, first=None, last=None)
    model = await train_and_store(runtime, histories, TrainingConfig())
    info = model.info
    log.info(
        "retrained model %s (%s): walk-forward balanced accuracy %.3f",
        info.version,
        info.algorithm,
        info.metrics.balanced_accuracy,
    )


def between(series: PriceSeries, first: date | None, last: date | None) -> PriceSeries:
    """The points of `series` dated within [first, last] (either bound optional)."""
    keep = [
        i
        for i, ts in enumerate(series.timestamps)
        if (first is None or ts.date() >= first) and (last is None or ts.date() <= last)
    ]
    return PriceSeries(
        timestamps=tuple(series.timestamps[i] for i in keep),
        close=series.close[keep],
        volume=None if series.volume is None else series.volume[keep],
    )
