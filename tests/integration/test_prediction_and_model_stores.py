"""SQL prediction and model stores on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.database import create_engine
from app.adapters.sql.model_store import SqlModelStore
from app.adapters.sql.prediction_store import SqlPredictionStore
from app.migrate import upgrade_database
from domain.predictions import Prediction, StoredModel
from domain.signals.recommendations import (
    IndicatorSnapshot,
    PredictionMethod,
    ProbabilityDistribution,
    Reason,
    Recommendation,
    Signal,
)

NOW = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def prediction(number: int, *, symbol: str = "AAPL", minutes: int = 0) -> Prediction:
    signal = Signal(
        recommendation=Recommendation.BUY,
        confidence=0.5,
        probabilities=ProbabilityDistribution(buy=0.5, hold=0.3333333333, sell=0.1666666667),
        method=PredictionMethod.MODEL,
        model_version="m-1",
        horizon_days=5,
        price=123.456,
        as_of=NOW - timedelta(days=1),
        reasons=(Reason("RSI_OVERSOLD", "RSI(14) = 27.4 < 30"), Reason("MACD_UP", "cross")),
        indicators=IndicatorSnapshot(
            sma50=1.5,
            sma200=None,
            ema12=2.0,
            ema26=None,
            rsi14=27.4,
            macd=0.1,
            macd_signal=None,
            macd_histogram=-0.2,
        ),
    )
    return Prediction(f"p{number}", symbol, signal, NOW + timedelta(minutes=minutes))


def model(version: str, *, size: int = 10) -> StoredModel:
    return StoredModel(
        version=version,
        info={"algorithm": "hgb", "version": version},
        artifact=bytes(range(256)) * size,
        active=False,
        created_at=NOW,
    )


async def test_a_prediction_round_trips_exactly(engine: AsyncEngine) -> None:
    store = SqlPredictionStore(engine)
    made = prediction(1)
    await store.add(made)
    assert await store.latest("AAPL") == made


async def test_recent_is_newest_first_per_symbol_with_a_limit(engine: AsyncEngine) -> None:
    store = SqlPredictionStore(engine)
    for number in range(5):
        await store.add(prediction(number, minutes=number))
    await store.add(prediction(9, symbol="MSFT"))
    assert [p.id for p in await store.recent("AAPL", limit=3)] == ["p4", "p3", "p2"]
    assert await store.latest("IBM") is None


async def test_old_predictions_are_deleted(engine: AsyncEngine) -> None:
    store = SqlPredictionStore(engine)
    for number in range(3):
        await store.add(prediction(number, minutes=number * 60))
    assert await store.delete_older_than(NOW + timedelta(minutes=90)) == 2
    assert [p.id for p in await store.recent("AAPL", limit=10)] == ["p2"]


async def test_saving_an_active_model_deactivates_the_others(engine: AsyncEngine) -> None:
    store = SqlModelStore(engine)
    await store.save(model("m-1"), activate=True)
    await store.save(model("m-2", size=20_000), activate=True)
    active = await store.active()
    assert active is not None
    assert active.version == "m-2"
    assert active.artifact == bytes(range(256)) * 20_000
    first = await store.get("m-1")
    assert first is not None
    assert first.active is False
    assert await store.get("nope") is None


async def test_activation_races_leave_exactly_one_active_model(engine: AsyncEngine) -> None:
    store = SqlModelStore(engine)
    for version in ("a", "b", "c"):
        await store.save(model(version), activate=False)
    results = await asyncio.gather(*(store.activate(v) for v in ("a", "b", "c", "a", "b")))
    assert all(results)
    assert await store.active() is not None
    assert not await store.activate("missing")
    assert await store.active() is not None
