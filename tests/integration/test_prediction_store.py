"""SqlPredictionStore on SQLite and PostgreSQL (both migrated to head)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.prediction_store import SqlPredictionStore
from domain.predictions import Prediction
from domain.signals.recommendations import (
    IndicatorSnapshot,
    PredictionMethod,
    ProbabilityDistribution,
    Reason,
    Recommendation,
    Signal,
)

NOW = datetime(2024, 6, 3, 15, 0, 7, 123_456, tzinfo=UTC)
# Floats whose shortest repr has all 17 digits: a lossy store would change them.
SIGNAL = Signal(
    recommendation=Recommendation.BUY,
    confidence=0.1 + 0.2 + 0.1,
    probabilities=ProbabilityDistribution(buy=0.1 + 0.2 + 0.1, hold=1 / 3, sell=1 - 0.4 - 1 / 3),
    method=PredictionMethod.MODEL,
    model_version="gradient_boosting-20240603T150000Z",
    horizon_days=5,
    price=187.12999999999999,
    as_of=datetime(2024, 5, 31, 20, 0, 0, 1, tzinfo=UTC),
    # Not in code order, so that a sorted read would show.
    reasons=(
        Reason("RSI_OVERSOLD", "RSI(14) = 27.4 < 30"),
        Reason("MACD_BULLISH", "MACD 0.31 > signal 0.12"),
        Reason("ABOVE_SMA200", "close 187.13 > SMA(200) 171.02 — «long» trend"),
    ),
    indicators=IndicatorSnapshot(
        sma50=180.123456789012,
        sma200=None,
        ema12=2 / 3,
        ema26=None,
        rsi14=27.4,
        macd=-0.0,
        macd_signal=None,
        macd_histogram=-1e-12,
    ),
)
RULES_SIGNAL = dataclasses.replace(
    SIGNAL,
    recommendation=Recommendation.HOLD,
    confidence=0.5,
    probabilities=ProbabilityDistribution(buy=0.25, hold=0.5, sell=0.25),
    method=PredictionMethod.RULES,
    model_version=None,
    reasons=(),
    indicators=IndicatorSnapshot(None, None, None, None, None, None, None, None),
)


def prediction(
    number: int, *, symbol: str = "AAPL", minutes: int = 0, signal: Signal = SIGNAL
) -> Prediction:
    return Prediction(f"p{number:031d}", symbol, signal, NOW + timedelta(minutes=minutes))


@pytest.fixture
def store(engine: AsyncEngine) -> SqlPredictionStore:
    return SqlPredictionStore(engine)


async def add_all(store: SqlPredictionStore, *predictions: Prediction) -> None:
    for each in predictions:
        await store.add(each)


async def test_a_model_prediction_reads_back_exactly(store: SqlPredictionStore) -> None:
    added = prediction(1)
    await store.add(added)

    [read] = await store.recent("AAPL", limit=10)
    assert read == added
    # Equality of the dataclasses would pass for 0.0 == -0.0 and 1 == 1.0: compare the bits.
    assert repr(read.signal.indicators) == repr(added.signal.indicators)
    assert type(read.signal.horizon_days) is int


async def test_a_rules_prediction_without_reasons_or_indicators_reads_back_exactly(
    store: SqlPredictionStore,
) -> None:
    added = prediction(1, signal=RULES_SIGNAL)
    await store.add(added)
    assert await store.latest("AAPL") == added


async def test_recent_is_newest_first_and_stops_at_the_limit(store: SqlPredictionStore) -> None:
    added = [prediction(n, minutes=n) for n in range(5)]
    await add_all(store, added[2], added[0], added[4], added[1], added[3])

    assert await store.recent("AAPL", limit=3) == [added[4], added[3], added[2]]
    assert await store.recent("AAPL", limit=10) == added[::-1]


async def test_recent_breaks_ties_of_created_at_by_id_descending(
    store: SqlPredictionStore,
) -> None:
    await add_all(store, prediction(1), prediction(3), prediction(2))
    assert [p.id for p in await store.recent("AAPL", limit=3)] == [
        prediction(3).id,
        prediction(2).id,
        prediction(1).id,
    ]


async def test_recent_holds_only_the_symbols_own(store: SqlPredictionStore) -> None:
    own, other = prediction(1), prediction(2, symbol="MSFT", minutes=5)
    await add_all(store, own, other)
    assert await store.recent("AAPL", limit=10) == [own]
    assert await store.recent("IBM", limit=10) == []


async def test_latest_is_the_newest_of_the_symbol(store: SqlPredictionStore) -> None:
    old, new = prediction(1, minutes=0), prediction(2, minutes=1)
    await add_all(store, new, old, prediction(3, symbol="MSFT", minutes=9))
    assert await store.latest("AAPL") == new


async def test_latest_of_a_symbol_without_predictions_is_none(store: SqlPredictionStore) -> None:
    await store.add(prediction(1))
    assert await store.latest("IBM") is None


async def test_delete_older_than_removes_every_symbols_older_ones_and_counts_them(
    store: SqlPredictionStore,
) -> None:
    old_aapl, old_msft = prediction(1, minutes=0), prediction(2, symbol="MSFT", minutes=30)
    at_cutoff, new = prediction(3, minutes=60), prediction(4, minutes=90)
    await add_all(store, old_aapl, old_msft, at_cutoff, new)

    assert await store.delete_older_than(NOW + timedelta(minutes=60)) == 2
    assert await store.recent("AAPL", limit=10) == [new, at_cutoff]
    assert await store.recent("MSFT", limit=10) == []
    assert await store.delete_older_than(NOW + timedelta(minutes=60)) == 0
