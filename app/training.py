"""Training the signal model on stored history and making it the active one."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.daemon_threads import in_daemon_thread
from app.runtime import Runtime
from domain.market import Interval
from domain.signals.model import TrainedModel
from domain.signals.prices import PriceSeries
from domain.signals.training import Progress, TrainingConfig, train_model
from domain.symbols import normalize_symbol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingHistory:
    """The daily closes of one symbol used for training or a backtest, and where they are from."""

    series: PriceSeries
    source: str
    stored_from: date
    stored_to: date

    def describe(self, symbol: str) -> str:
        """E.g. "AAPL: 3,521 daily bars 2000-01-03 .. 2013-12-31 from csv"."""
        stamps = self.series.timestamps
        if not stamps:
            return (
                f"{symbol}: no daily bars in the requested range; {self.source} has "
                f"{self.stored_from} .. {self.stored_to}"
            )
        return (
            f"{symbol}: {len(stamps):,} daily bars {stamps[0].date()} .. {stamps[-1].date()} "
            f"from {self.source}"
        )


async def load_training_histories(
    runtime: Runtime, symbols: Iterable[str], *, first: date | None, last: date | None
) -> dict[str, TrainingHistory]:
    """Each symbol's stored daily closes within [first, last] (either bound optional), every
    stored bar of any age, with their source, by upper-case symbol; a symbol with nothing
    stored is fetched from the provider. Raises InvalidInput for a malformed symbol and
    NotFound for an unknown one."""
    histories = {}
    for symbol in map(normalize_symbol, symbols):
        stored = await runtime.services.history.stored_series(symbol, Interval.DAILY)
        every = PriceSeries.from_bars(stored.series)
        stored_from, stored_to = every.timestamps[0].date(), every.timestamps[-1].date()
        series = between(every, first, last)
        histories[symbol] = TrainingHistory(series, stored.source, stored_from, stored_to)
    return histories


async def load_histories(
    runtime: Runtime, symbols: Iterable[str], *, first: date | None, last: date | None
) -> dict[str, PriceSeries]:
    """Each symbol's stored daily closes within [first, last] (see load_training_histories)."""
    loaded = await load_training_histories(runtime, symbols, first=first, last=last)
    return {symbol: history.series for symbol, history in loaded.items()}


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
    await runtime.services.models.save_model(training.model, activate=activate)
    return training.model


async def retrain_model(runtime: Runtime) -> None:
    """The worker's scheduled retraining on the tracked symbols' full stored history."""
    loaded = await load_training_histories(runtime, runtime.settings.symbols, first=None, last=None)
    for symbol, history in loaded.items():
        log.info("retraining on %s", history.describe(symbol))
    histories = {symbol: history.series for symbol, history in loaded.items()}
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
