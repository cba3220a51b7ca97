"""Backtests: acting on the signals of RULES or the active model over stored daily history."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import numpy.typing as npt

from domain.active_model import ActiveModel
from domain.errors import InvalidInput, NotFound
from domain.history import HistoryService
from domain.market import Interval
from domain.prediction_service import PredictionLimits
from domain.signals.answering import model_input
from domain.signals.backtest import Backtest, StrategyMetrics, long_flat
from domain.signals.labels import LabelRule, label_closes
from domain.signals.metrics import ClassificationMetrics, score_classes
from domain.signals.prices import InsufficientData, PriceSeries
from domain.signals.recommendations import PredictionMethod
from domain.signals.rules import rule_classes
from domain.signals.technicals import Technicals
from domain.symbols import normalize_symbol


@dataclass(frozen=True, slots=True)
class BacktestReport:
    symbol: str
    method: PredictionMethod
    start: date
    end: date
    metrics: ClassificationMetrics
    strategy: StrategyMetrics
    buy_and_hold_return: float
    run: Backtest


class Backtester:
    def __init__(
        self, *, history: HistoryService, active: ActiveModel, limits: PredictionLimits
    ) -> None:
        self._history = history
        self._active = active
        self._limits = limits

    async def backtest(
        self,
        symbol: str,
        *,
        start: date | None,
        end: date | None,
        method: PredictionMethod,
    ) -> BacktestReport:
        """Act on the signals of `method` over the stored daily history in [start, end]:
        classification scores against the realised labels and the long/flat strategy.
        A MODEL backtest over the model's training period is in sample (see modelInfo for
        the out-of-sample walk-forward numbers). Raises InvalidInput, NotFound,
        InsufficientData."""
        symbol = normalize_symbol(symbol)
        if method is PredictionMethod.MODEL and self._active.model is None:
            raise NotFound("No trained model is active; use method RULES")
        if start is not None and end is not None and start > end:
            raise InvalidInput("start must not be after end", field="start")
        stored = await self._history.stored_series(symbol, Interval.DAILY)
        series = PriceSeries.from_bars(stored.series)
        if method is PredictionMethod.MODEL and self._active.model is not None:
            data = model_input(self._active.model, series)
            classes = self._active.model.recommendations(data)[0]
            # With a position threshold the strategy is long or flat by it (positions.py).
            acted_on = self._active.model.positions(data)
            horizon = self._active.model.info.horizon_days
        else:
            classes = acted_on = _rule_classes(series)
            horizon = self._limits.default_horizon_days
        stamps = series.timestamps
        first = 0 if start is None else _index_at(stamps, start)
        stop = len(stamps) if end is None else _index_at(stamps, end + timedelta(days=1))
        if stop - first < 2:
            raise InsufficientData(required=2, available=max(stop - first, 0))
        labels = label_closes(series.close, LabelRule(horizon=horizon))
        window = np.arange(first, stop)
        known = window[labels.known[first:stop]]
        if len(known) == 0:
            raise InsufficientData(required=horizon + 1, available=stop - first)
        run = long_flat(
            stamps[first:stop],
            series.close[first:stop],
            acted_on[first:stop],
            cost_bps=self._limits.cost_bps,
        )
        return BacktestReport(
            symbol=symbol,
            method=method,
            start=stamps[first].date(),
            end=stamps[stop - 1].date(),
            metrics=score_classes(labels.classes[known], classes[known]),
            strategy=run.metrics,
            buy_and_hold_return=float(series.close[stop - 1] / series.close[first] - 1.0),
            run=run,
        )


def _rule_classes(series: PriceSeries) -> npt.NDArray[np.int8]:
    return rule_classes(Technicals.of(series.close))


def _index_at(stamps: tuple[datetime, ...], day: date) -> int:
    """Index of the first point on or after `day` (midnight UTC)."""
    return bisect.bisect_left(stamps, datetime.combine(day, time.min, tzinfo=UTC))
