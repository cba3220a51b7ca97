"""Rows for training and evaluation, pooled over symbols.

One row per (symbol, trading day t) that has both complete features (t >= required_history
- 1) and a known label (t + horizon still in the data). Rows are sorted by time, then symbol,
so any prefix of the rows is the past of what follows. Each row keeps when its label ends
(the timestamp of close t + horizon), which is what the walk-forward purge needs, and the
rules' recommendation at t, computed once over the whole series (the rules are causal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.signals.features import FeatureSet
from domain.signals.labels import ClassArray, LabelRule, label_closes
from domain.signals.prices import FloatArray, PriceSeries
from domain.signals.rules import rule_classes
from domain.signals.technicals import Technicals

IntArray = npt.NDArray[np.intp]
SecondsArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Dataset:
    """Pooled rows. `time` and `label_end` are POSIX seconds (UTC); `position` is the row's
    index t in its symbol's series; `close` is the close at t."""

    symbols: tuple[str, ...]
    series: tuple[PriceSeries, ...]
    features: FeatureSet
    label_rule: LabelRule
    x: FloatArray
    y: ClassArray
    rules: ClassArray
    symbol: IntArray
    position: IntArray
    time: SecondsArray
    label_end: SecondsArray
    close: FloatArray

    def __len__(self) -> int:
        return len(self.y)


def build_dataset(
    histories: Mapping[str, PriceSeries], *, features: FeatureSet, label_rule: LabelRule
) -> Dataset:
    """Rows of every symbol in `histories` (symbol -> series). A series too short for one
    complete, labelled row adds no rows. Raises ValueError when no row at all remains."""
    if not histories:
        raise ValueError("no symbols to build rows from")
    parts: list[tuple[FloatArray, ClassArray, ClassArray, IntArray, IntArray, FloatArray]] = []
    symbols = tuple(histories)
    for number, symbol in enumerate(symbols):
        series = histories[symbol]
        technicals = Technicals.of(series.close)
        x = features.compute(series, technicals)
        labels = label_closes(series.close, label_rule)
        keep = np.flatnonzero(np.isfinite(x).all(axis=1) & labels.known)
        parts.append(
            (
                x[keep],
                labels.classes[keep],
                rule_classes(technicals)[keep],
                np.full(len(keep), number, dtype=np.intp),
                keep.astype(np.intp),
                series.close[keep],
            )
        )
    columns = zip(*parts, strict=True)
    x, y, rules, symbol_of, position, close = (np.concatenate(column) for column in columns)
    if len(y) == 0:
        raise ValueError("no symbol has enough history for one labelled row")
    seconds = [_seconds(series) for series in histories.values()]
    time = np.array([seconds[s][p] for s, p in zip(symbol_of, position, strict=True)])
    label_end = np.array(
        [seconds[s][p + label_rule.horizon] for s, p in zip(symbol_of, position, strict=True)]
    )
    order = np.lexsort((symbol_of, time))
    return Dataset(
        symbols=symbols,
        series=tuple(histories.values()),
        features=features,
        label_rule=label_rule,
        x=x[order],
        y=y[order],
        rules=rules[order],
        symbol=symbol_of[order],
        position=position[order],
        time=time[order].astype(np.int64),
        label_end=label_end[order].astype(np.int64),
        close=close[order],
    )


def _seconds(series: PriceSeries) -> list[int]:
    return [int(ts.timestamp()) for ts in series.timestamps]
