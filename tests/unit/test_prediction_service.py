"""PredictionService over fakes of its ports (history, stores, bus, limiter, reactions):
what a prediction stores, publishes and announces, and what a refused one leaves untouched.
The real stores and bus are in tests/api/test_predictions_api.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.active_model import ActiveModel
from domain.errors import NotFound, RateLimited, Unauthenticated
from domain.events import (
    ALL_PREDICTIONS_CHANNEL,
    RecommendationChanged,
    prediction_from_json,
    predictions_channel,
)
from domain.history import StoredSeries
from domain.market import BarSeries, Interval
from domain.prediction_service import PredictionLimits, PredictionService
from domain.predictions import Prediction
from domain.reactions import Reactions
from domain.signals.recommendations import PredictionMethod, Recommendation
from tests.support.fakes import daily_bars
from tests.support.notification_fakes import RecordingBus

NOW = datetime(2024, 6, 3, 21, tzinfo=UTC)


class FixedHistory:
    """HistoryService.stored_series: 300 daily bars of every symbol, counted."""

    def __init__(self) -> None:
        self.series = BarSeries.from_bars(daily_bars(300, start=NOW - timedelta(days=430)))
        self.reads = 0

    async def stored_series(self, symbol: str, interval: Interval) -> StoredSeries:
        assert interval is Interval.DAILY
        self.reads += 1
        return StoredSeries(self.series, "fake", NOW)


class MemoryPredictions:
    def __init__(self) -> None:
        self.items: list[Prediction] = []

    async def add(self, prediction: Prediction) -> None:
        self.items.append(prediction)

    async def recent(self, symbol: str, *, limit: int) -> list[Prediction]:
        return [p for p in reversed(self.items) if p.symbol == symbol][:limit]

    async def latest(self, symbol: str) -> Prediction | None:
        mine = await self.recent(symbol, limit=1)
        return mine[0] if mine else None

    async def delete_older_than(self, cutoff: datetime) -> int:
        raise NotImplementedError


class CountingLimiter:
    """RateLimiter allowing `allowed` hits per key, then asking to wait 42 s."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.hits: dict[str, int] = {}

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int | None:
        self.hits[key] = self.hits.get(key, 0) + 1
        return None if self.hits[key] <= self.allowed else 42

    async def reset(self, key: str) -> None:
        self.hits.pop(key, None)


class Service:
    """A PredictionService with no active model (RULES) and what it was given."""

    def __init__(self, *, allowed: int = 100) -> None:
        self.history = FixedHistory()
        self.predictions = MemoryPredictions()
        self.bus = RecordingBus()
        self.announced: list[object] = []
        reactions = Reactions()
        reactions.on(RecommendationChanged, self._record)
        ids = iter(f"p{n}" for n in range(1, 1000))
        self.service = PredictionService(
            history=self.history,  # type: ignore[arg-type]
            predictions=self.predictions,
            active=ActiveModel(store=None, bus=self.bus),  # type: ignore[arg-type]  # none loaded
            bus=self.bus,
            reactions=reactions,
            limiter=CountingLimiter(allowed),
            limits=PredictionLimits(anonymous_per_address=allowed),
            clock=lambda: NOW,
            new_id=lambda: next(ids),
        )

    async def _record(self, event: object) -> None:
        self.announced.append(event)


async def test_a_prediction_is_stored_then_published_on_its_symbol_and_all_channels() -> None:
    subject = Service()
    prediction = await subject.service.predict("aapl")

    assert (prediction.id, prediction.symbol, prediction.created_at) == ("p1", "AAPL", NOW)
    assert prediction.signal.method is PredictionMethod.RULES
    assert subject.predictions.items == [prediction]
    channels = [channel for channel, _ in subject.bus.published]
    assert channels == [predictions_channel("AAPL"), ALL_PREDICTIONS_CHANNEL]
    event = prediction_from_json(subject.bus.published[0][1])
    assert (event.prediction_id, event.recommendation) == (
        "p1",
        prediction.signal.recommendation.value,
    )
    assert subject.announced == []  # a first prediction changes no recommendation


async def test_a_repeated_prediction_of_unchanged_bars_reuses_the_signal() -> None:
    subject = Service()
    first = await subject.service.predict("AAPL")
    second = await subject.service.predict("AAPL")
    assert second.signal is first.signal
    assert [p.id for p in subject.predictions.items] == ["p1", "p2"]


async def test_a_changed_recommendation_is_announced_once() -> None:
    subject = Service()
    made = await subject.service.predict("AAPL")
    other = next(r for r in Recommendation if r is not made.signal.recommendation)
    # As if the recommendation before this one had been `other`.
    subject.predictions.items[-1] = replace(made, signal=replace(made.signal, recommendation=other))

    again = await subject.service.predict("AAPL")
    assert subject.announced == [
        RecommendationChanged("AAPL", other.value, again.signal.recommendation.value)
    ]
    await subject.service.predict("AAPL")  # the same recommendation as the last one
    assert len(subject.announced) == 1


async def test_a_rate_limited_anonymous_caller_gets_nothing_stored_or_published() -> None:
    subject = Service(allowed=1)
    await subject.service.predict("AAPL", anonymous_client="203.0.113.9")
    with pytest.raises(RateLimited) as refused:
        await subject.service.predict("AAPL", anonymous_client="203.0.113.9")
    assert refused.value.retry_after_seconds == 42
    assert len(subject.predictions.items) == 1
    assert len(subject.bus.published) == 2  # the first prediction's two channels only
    # Signed-in callers (no address given) are not limited here.
    await subject.service.predict("AAPL")
    assert len(subject.predictions.items) == 2


async def test_a_prediction_is_stored_and_answered_when_publishing_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    subject = Service()
    subject.bus.failing = True
    prediction = await subject.service.predict("AAPL")
    assert subject.predictions.items == [prediction]
    failures = [r for r in caplog.records if "publishing prediction p1 failed" in r.getMessage()]
    assert len(failures) == 2  # each channel tried, each failure logged


async def test_the_callers_check_runs_while_the_signal_is_read() -> None:
    subject = Service()
    history_asked = asyncio.Event()
    reads = subject.history.stored_series

    async def stored_series(symbol: str, interval: Interval) -> StoredSeries:
        history_asked.set()
        return await reads(symbol, interval)

    subject.history.stored_series = stored_series  # type: ignore[method-assign]

    async def caller_check() -> None:
        # Would never return if the history were read only after the check.
        await asyncio.wait_for(history_asked.wait(), timeout=5)

    await subject.service.predict("AAPL", caller_check=caller_check)
    assert len(subject.predictions.items) == 1


async def test_a_refused_caller_is_refused_first_and_gets_nothing_stored_or_published() -> None:
    subject = Service()

    async def refused() -> None:
        raise Unauthenticated("The token was revoked; sign in again")

    with pytest.raises(Unauthenticated):
        await subject.service.predict("AAPL", caller_check=refused)

    async def unknown(symbol: str, interval: Interval) -> StoredSeries:
        raise NotFound(f"No data for {symbol}")

    subject.history.stored_series = unknown  # type: ignore[method-assign]
    # When the signal fails too, the caller's refusal is what is raised, as when it was
    # checked before anything ran.
    with pytest.raises(Unauthenticated):
        await subject.service.predict("NOPE", caller_check=refused)
    with pytest.raises(NotFound):
        await subject.service.predict("NOPE")
    assert subject.predictions.items == []
    assert subject.bus.published == []
