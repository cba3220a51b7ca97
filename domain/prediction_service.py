"""Predict, store, publish and explain: the signals as a service."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from domain.active_model import ActiveModel
from domain.errors import InvalidInput, NotFound, RateLimited, UpstreamUnavailable
from domain.events import (
    ALL_PREDICTIONS_CHANNEL,
    EventBus,
    PredictionMade,
    RecommendationChanged,
    prediction_json,
    predictions_channel,
)
from domain.history import HistoryService
from domain.market import Interval
from domain.predictions import Prediction, PredictionStore
from domain.rate_limits import RateLimiter
from domain.reactions import Reactions
from domain.signals.answering import answer, with_reasons
from domain.signals.overlay import overlay, supplied_only_reason
from domain.signals.prices import PriceSeries
from domain.signals.recommendations import Reason, Signal
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


class PredictionService:
    def __init__(
        self,
        *,
        history: HistoryService,
        predictions: PredictionStore,
        active: ActiveModel,
        bus: EventBus,
        reactions: Reactions,
        limiter: RateLimiter,
        limits: PredictionLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._history = history
        self._predictions = predictions
        self._active = active
        self._bus = bus
        self._reactions = reactions
        self._limiter = limiter
        self._limits = limits or PredictionLimits()
        self._clock = clock
        self._new_id = new_id
        # Signals of stored histories by what they depend on; oldest entries leave first.
        self._signals: dict[tuple[object, ...], Signal] = {}

    async def predict(
        self,
        symbol: str,
        *,
        data: Sequence[tuple[date, float]] | None = None,
        horizon_days: int | None = None,
        anonymous_client: str | None = None,
        caller_check: Callable[[], Awaitable[object]] | None = None,
    ) -> Prediction:
        """Predict from the stored daily history, with `data` ({date, price} points) laid
        over it when given (see _supplied_signal); store the prediction, publish it, and
        tell alert owners when the recommendation changed.
        Anonymous callers (their address given) are rate limited. `caller_check` verifies a
        signed-in caller (a token whose signature was checked already): it runs while the
        signal and the previous prediction are worked out, and what it raises is raised
        before anything is stored. Raises InvalidInput, InsufficientData, NotFound or
        RateLimited, storing nothing."""
        symbol = normalize_symbol(symbol)
        if anonymous_client is not None:
            await self._limit(anonymous_client)
        horizon = self._horizon(horizon_days)
        signal_of = (
            self._stored_signal(symbol, horizon)
            if data is None
            else self._supplied_signal(symbol, PriceSeries.from_points(data), horizon)
        )
        # The caller's check and the previous prediction go alongside the signal: under load
        # each round trip in sequence waits behind every other request's step (issue 17).
        signal, previous = await _together(
            signal_of,
            self._predictions.latest(symbol),
            first=None if caller_check is None else caller_check(),
        )
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

    async def _stored_signal(self, symbol: str, horizon: int) -> Signal:
        """The signal of the stored daily history. It is a pure function of the bars, the
        model and the horizon, so it is remembered until one of them changes (a new bar, a
        tick of today's bar, another model): repeated predictions cost only their storage."""
        stored = await self._history.stored_series(symbol, Interval.DAILY)
        bars = stored.series
        model = self._active.model
        key = (
            symbol,
            len(bars),
            bars.timestamps[-1] if len(bars) else None,
            bars.close[-1] if len(bars) else None,
            model.version if model else None,
            self._active.unloadable_version,
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
            model=self._active.model,
            unloadable_version=self._active.unloadable_version,
        )
        return with_reasons(signal, *reasons) if reasons else signal

    def _horizon(self, horizon_days: int | None) -> int:
        if horizon_days is None:
            model = self._active.model
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
        channels = (predictions_channel(prediction.symbol), ALL_PREDICTIONS_CHANNEL)
        # Both at once: the answer waits for them (one round trip, not two, under load).
        outcomes = await asyncio.gather(
            *(self._bus.publish(channel, message) for channel in channels),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):  # stored already; live delivery is best effort
                log.warning("publishing prediction %s failed: %s", prediction.id, outcome)

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


_Signal = TypeVar("_Signal")
_Previous = TypeVar("_Previous")


async def _together(
    signal: Awaitable[_Signal], previous: Awaitable[_Previous], *, first: Awaitable[object] | None
) -> tuple[_Signal, _Previous]:
    """Both results, awaited at once with `first`. Errors in the order given, `first`'s
    first: a caller refused is refused whatever else failed, as if it had been checked
    before."""
    if first is None:
        return await asyncio.gather(signal, previous)
    checked, signalled, previously = await asyncio.gather(
        first, signal, previous, return_exceptions=True
    )
    if isinstance(checked, BaseException):
        raise checked
    if isinstance(signalled, BaseException):
        raise signalled
    if isinstance(previously, BaseException):
        raise previously
    return signalled, previously
