"""PredictionStore on SQL: every prediction made, newest first per symbol."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.tables import PredictionRow
from domain.predictions import Prediction
from domain.signals.recommendations import (
    IndicatorSnapshot,
    PredictionMethod,
    ProbabilityDistribution,
    Reason,
    Recommendation,
    Signal,
)

PREDICTIONS: Table = PredictionRow.__table__  # type: ignore[attr-defined]


class SqlPredictionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, prediction: Prediction) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(insert(PREDICTIONS).values(_row(prediction)))

    async def recent(self, symbol: str, *, limit: int) -> list[Prediction]:
        query = (
            select(PREDICTIONS)
            .where(PREDICTIONS.c.symbol == symbol)
            .order_by(PREDICTIONS.c.created_at.desc(), PREDICTIONS.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return [_prediction(row) for row in await connection.execute(query)]

    async def latest(self, symbol: str) -> Prediction | None:
        newest = await self.recent(symbol, limit=1)
        return newest[0] if newest else None

    async def delete_older_than(self, cutoff: datetime) -> int:
        statement = delete(PREDICTIONS).where(PREDICTIONS.c.created_at < cutoff)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)


def _row(prediction: Prediction) -> dict[str, Any]:
    signal = prediction.signal
    p = signal.probabilities
    i = signal.indicators
    return {
        "id": prediction.id,
        "symbol": prediction.symbol,
        "recommendation": signal.recommendation.value,
        "confidence": signal.confidence,
        "probabilities": {"buy": p.buy, "hold": p.hold, "sell": p.sell},
        "method": signal.method.value,
        "model_version": signal.model_version,
        "horizon_days": signal.horizon_days,
        "price": signal.price,
        "as_of": signal.as_of,
        "reasons": [{"code": r.code, "description": r.description} for r in signal.reasons],
        "indicators": {
            "sma50": i.sma50,
            "sma200": i.sma200,
            "ema12": i.ema12,
            "ema26": i.ema26,
            "rsi14": i.rsi14,
            "macd": i.macd,
            "macd_signal": i.macd_signal,
            "macd_histogram": i.macd_histogram,
        },
        "created_at": prediction.created_at,
    }


def _prediction(row: Row[Any]) -> Prediction:
    p = row.probabilities
    signal = Signal(
        recommendation=Recommendation(row.recommendation),
        confidence=row.confidence,
        probabilities=ProbabilityDistribution(buy=p["buy"], hold=p["hold"], sell=p["sell"]),
        method=PredictionMethod(row.method),
        model_version=row.model_version,
        horizon_days=row.horizon_days,
        price=row.price,
        as_of=row.as_of,
        reasons=tuple(Reason(code=r["code"], description=r["description"]) for r in row.reasons),
        indicators=IndicatorSnapshot(**row.indicators),
    )
    return Prediction(id=row.id, symbol=row.symbol, signal=signal, created_at=row.created_at)
