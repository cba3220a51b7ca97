"""Predict, store, publish and explain: the signals as a service."""

from __future__ import annotations

import asyncio
import bisect
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import numpy.typing as npt

from domain.errors import InvalidInput, NotFound, RateLimited, UpstreamUnavailable
from domain.events import (
    ALL_PREDICTIONS_CHANNEL,
    MODEL_ACTIVATIONS_CHANNEL,
    EventBus,
    ModelActivated,
    PredictionMade,
    RecommendationChanged,
    model_activation_json,
    prediction_json,
    predictions_channel,
)
from domain.history import HistoryService
from domain.market import Interval
from domain.predictions import ModelStore, Prediction, PredictionStore, StoredModel
from domain.rate_limits import RateLimiter
from domain.reactions import Reactions
from domain.signals.answering import answer, model_input, with_reasons
from domain.signals.backtest import Backtest, StrategyMetrics, long_flat
from domain.signals.labels import LabelRule, label_closes
from domain.signals.metrics import ClassificationMetrics, score_classes
from domain.signals.model import TrainedModel
from domain.signals.model_info import ModelInfo
from domain.signals.overlay import overlay, supplied_only_reason
from domain.signals.prices import InsufficientData, PriceSeries
from domain.signals.recommendations import PredictionMethod, Reason, Signal
from domain.signals.rules import rule_classes
from domain.signals.technicals import Technicals
from domain.symbols import normalize_symbol

log = logging.getLogger(__name__)

HORIZON_DAYS = (1, 60)
MAX_PREDICTIONS = 100
SIGNAL_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class PredictionLimits:
    anonymous_per_address: int = 30
    window_seconds: int = 60
    default_horizon_days: int = 5
    cost_bps: float = 5.0


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


class PredictionService:
    def __init__(
        self,
        *,
        history: HistoryService,
        predictions: PredictionStore,
        models: ModelStore,
        bus: EventBus,
        reactions: Reactions,
        limiter: RateLimiter,
        limits: PredictionLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._history = history
        self._predictions = predictions
        self._models = models
        self._bus = bus
        self._reactions = reactions
        self._limiter = limiter
        self._limits = limits or PredictionLimits()
        self._clock = clock
        self._new_id = new_id
        self._model: TrainedModel | None = None
        # The active version this process failed to load: logged once, not tried again.
        self._unloadable_version: str | None = None
        # One load at a time: an announcement and the interval check may arrive together.
        self._loading = asyncio.Lock()
        # Signals of stored histories by what they depend on; oldest entries leave first.
        self._signals: dict[tuple[object, ...], Signal] = {}

    @property
    def model(self) -> TrainedModel | None:
        return self._model

    async def load_active_model(self) -> TrainedModel | None:
        """Load the active model (at start-up, and when it changes); RULES serve without one.
        A stored model this code cannot load is logged once and skipped: RULES answer, with
        a reason saying so."""
        async with self._loading:
            stored = await self._models.active()
            if stored is None:
                self._model, self._unloadable_version = None, None
                return None
            if stored.version == self._loaded_version:
                return self._model
            try:
                model = await asyncio.to_thread(TrainedModel.from_bytes, stored.artifact)
            except ValueError as error:
                log.error("active model %s cannot be loaded: %s", stored.version, error)
                self._model, self._unloadable_version = None, stored.version
                return None
            self._model, self._unloadable_version = model, None
            log.info("predicting with model %s", model.version)
            return model

    async def sync_active_model(self) -> TrainedModel | None:
        """Load the active model when it is not the one this process has: a cheap version
        check, the artifact only when the version changed (announced, or found by the
        interval check). Raises what the model store raises (the database is down)."""
        if await self._models.active_version() == self._loaded_version:
            return self._model
        return await self.load_active_model()

    @property
    def _loaded_version(self) -> str | None:
        """The active version this process last saw: loaded, or found unloadable."""
        return self._model.version if self._model is not None else self._unloadable_version

    async def save_model(self, model: TrainedModel, *, activate: bool = True) -> None:
        """Store `model`; with `activate` it becomes the active one here at once and, once
        committed, is announced to every other process (which load it within seconds; see
        domain/model_activation.py)."""
        stored = StoredModel(
            version=model.version,
            info=model.info.to_dict(),
            artifact=await asyncio.to_thread(model.to_bytes),
            active=activate,
            created_at=self._clock(),
        )
        await self._models.save(stored, activate=activate)
        if not activate:
            return
        async with self._loading:
            self._model, self._unloadable_version = model, None
        message = model_activation_json(ModelActivated(model.version, self._clock()))
        try:
            await self._bus.publish(MODEL_ACTIVATIONS_CHANNEL, message)
        except Exception as error:  # stored and active; the others' interval check finds it
            log.warning("announcing model %s failed: %s", model.version, error)

    async def model_info(self) -> ModelInfo | None:
        stored = await self._models.active()
        return None if stored is None else ModelInfo.from_dict(stored.info)

    async def predict(
        self,
        symbol: str,
        *,
        data: Sequence[tuple[date, float]] | None = None,
        horizon_days: int | None = None,
        anonymous_client: str | None = None,
    ) -> Prediction:
        """Predict from the stored daily history, with `data` ({date, price} points) laid
        over it when given (see _supplied_signal); store the prediction, publish it, and
        tell alert owners when the recommendation changed.
        Anonymous callers (their address given) are rate limited. Raises InvalidInput,
        InsufficientData, NotFound or RateLimited, storing nothing."""
        symbol = normalize_symbol(symbol)
        if anonymous_client is not None:
            await self._limit(anonymous_client)
        horizon = self._horizon(horizon_days)
        if data is not None:
            signal = await self._supplied_signal(symbol, PriceSeries.from_points(data), horizon)
        else:
            signal = await self._stored_signal(symbol, horizon)
        previous = await self._predictions.latest(symbol)
        prediction = Prediction(self._new_id(), symbol, signal, self._clock())
        await self._predictions.add(prediction)
        await self._publish(prediction)
        if previous is not None and previous.signal.recommendation != signal.recommendation:
            await self._reactions.react(
                RecommendationChanged(
                    symbol, previous.signal.recommendation.value, signal.recommendation.value
                )
            )
        return prediction

    async def purge(self, *, older_than: timedelta) -> int:
        """Delete predictions older than `older_than`; returns how many."""
        return await self._predictions.delete_older_than(self._clock() - older_than)

    async def recent(self, symbol: str, *, limit: int) -> list[Prediction]:
        symbol = normalize_symbol(symbol)
        if not 1 <= limit <= MAX_PREDICTIONS:
            raise InvalidInput(f"limit must be between 1 and {MAX_PREDICTIONS}", field="limit")
        return await self._predictions.recent(symbol, limit=limit)

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
        if method is PredictionMethod.MODEL and self._model is None:
            raise NotFound("No trained model is active; use method RULES")
        if start is not None and end is not None and start > end:
            raise InvalidInput("start must not be after end", field="start")
        stored = await self._history.stored_series(symbol, Interval.DAILY)
        series = PriceSeries.from_bars(stored.series)
        if method is PredictionMethod.MODEL and self._model is not None:
            data = model_input(self._model, series)
            classes = self._model.recommendations(data)[0]
            # With a position threshold the strategy is long or flat by it (positions.py).
            acted_on = self._model.positions(data)
            horizon = self._model.info.horizon_days
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

    async def _stored_signal(self, symbol: str, horizon: int) -> Signal:
        """The signal of the stored daily history. It is a pure function of the bars, the
        model and the horizon, so it is remembered until one of them changes (a new bar, a
        tick of today's bar, another model): repeated predictions cost only their storage."""
        stored = await self._history.stored_series(symbol, Interval.DAILY)
        bars = stored.series
        model = self._model
        key = (
            symbol,
            len(bars),
            bars.timestamps[-1] if len(bars) else None,
            bars.close[-1] if len(bars) else None,
            model.version if model else None,
            self._unloadable_version,
            horizon,
        )
        signal = self._signals.get(key)
        if signal is None:
            signal = self._signal(PriceSeries.from_bars(bars), horizon)
            self._signals[key] = signal
            while len(self._signals) > SIGNAL_CACHE_SIZE:
                self._signals.pop(next(iter(self._signals)))
        return signal

    async def _supplied_signal(self, symbol: str, supplied: PriceSeries, horizon: int) -> Signal:
        """The signal of `supplied` laid over the symbol's stored daily history (same dates
        replaced, others added), or of `supplied` alone when none is stored (an unknown
        symbol, or nothing stored while the provider is down). A reason says which."""
        try:
            stored = await self._history.stored_series(symbol, Interval.DAILY)
        except (NotFound, UpstreamUnavailable) as error:
            log.info("predicting %s from supplied points only: %s", symbol, error)
            return self._signal(supplied, horizon, supplied_only_reason(symbol, len(supplied)))
        if len(stored.series) == 0:
            return self._signal(supplied, horizon, supplied_only_reason(symbol, len(supplied)))
        laid = overlay(PriceSeries.from_bars(stored.series), supplied)
        return self._signal(laid.series, horizon, laid.reason(symbol, stored.source))

    def _signal(self, series: PriceSeries, horizon: int, *reasons: Reason) -> Signal:
        signal = answer(
            series,
            horizon_days=horizon,
            model=self._model,
            unloadable_version=self._unloadable_version,
        )
        return with_reasons(signal, *reasons) if reasons else signal

    def _horizon(self, horizon_days: int | None) -> int:
        if horizon_days is None:
            model = self._model
            return model.info.horizon_days if model else self._limits.default_horizon_days
        low, high = HORIZON_DAYS
        if not low <= horizon_days <= high:
            raise InvalidInput(f"horizonDays must be between {low} and {high}", field="horizonDays")
        return horizon_days

    async def _publish(self, prediction: Prediction) -> None:
        message = prediction_json(
            PredictionMade(
                symbol=prediction.symbol,
                recommendation=prediction.signal.recommendation.value,
                confidence=prediction.signal.confidence,
                prediction_id=prediction.id,
                timestamp=prediction.created_at,
            )
        )
        for channel in (predictions_channel(prediction.symbol), ALL_PREDICTIONS_CHANNEL):
            try:
                await self._bus.publish(channel, message)
            except Exception as error:  # the prediction is stored; live delivery is best effort
                log.warning("publishing prediction %s failed: %s", prediction.id, error)

    async def _limit(self, client: str) -> None:
        limits = self._limits
        retry_after = await self._limiter.hit(
            f"predict:address:{client}",
            limit=limits.anonymous_per_address,
            window_seconds=limits.window_seconds,
        )
        if retry_after is not None:
            raise RateLimited(
                "Too many predictions; sign in or try again later",
                retry_after_seconds=retry_after,
            )


def _rule_classes(series: PriceSeries) -> npt.NDArray[np.int8]:
    return rule_classes(Technicals.of(series.close))


def _index_at(stamps: tuple[datetime, ...], day: date) -> int:
    """Index of the first point on or after `day` (midnight UTC)."""
    return bisect.bisect_left(stamps, datetime.combine(day, time.min, tzinfo=UTC))
