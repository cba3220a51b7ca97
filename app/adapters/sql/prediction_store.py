"""PredictionStore on SQL: the predictions table, every prediction made, newest first per
symbol."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.database import one_statement
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

# SQLModel does not declare __table__ to type checkers.
PREDICTIONS: Table = PredictionRow.__table__  # type: ignore[attr-defined]


class SqlPredictionStore:
    """domain.predictions.PredictionStore on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, prediction: Prediction) -> None:
        """Insert `prediction`; raises IntegrityError when its id exists already."""
        async with one_statement(self._engine) as connection:
            await connection.execute(insert(PREDICTIONS).values(_row(prediction)))

    async def recent(self, symbol: str, *, limit: int) -> list[Prediction]:
        """The symbol's predictions, newest created_at first (ties by id, descending), at
        most `limit`."""
        query = (
            select(PREDICTIONS)
            .where(PREDICTIONS.c.symbol == symbol)
            .order_by(PREDICTIONS.c.created_at.desc(), PREDICTIONS.c.id.desc())
            .limit(limit)
        )
        async with one_statement(self._engine) as connection:
            return [_prediction(row) for row in await connection.execute(query)]

    async def latest(self, symbol: str) -> Prediction | None:
        """The symbol's newest prediction, or None when it has none."""
        newest = await self.recent(symbol, limit=1)
        return newest[0] if newest else None

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Delete every symbol's predictions created before `cutoff`; returns how many."""
        statement = delete(PREDICTIONS).where(PREDICTIONS.c.created_at < cutoff)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount


# Rows <-> predictions: the only two places that know the column layout. JSON keeps the
# reasons' order and writes floats with repr, so every value reads back exactly.


def _row(prediction: Prediction) -> dict[str, Any]:
    signal = prediction.signal
    probabilities = signal.probabilities
    indicators = signal.indicators
    return {
        "id": prediction.id,
        "symbol": prediction.symbol,
        "recommendation": signal.recommendation.value,
        "confidence": signal.confidence,
        "probabilities": {
            "buy": probabilities.buy,
            "hold": probabilities.hold,
            "sell": probabilities.sell,
        },
        "method": signal.method.value,
        "model_version": signal.model_version,
        "horizon_days": signal.horizon_days,
        "price": signal.price,
        "as_of": signal.as_of,
        "reasons": [{"code": r.code, "description": r.description} for r in signal.reasons],
        "indicators": {
            "sma50": indicators.sma50,
            "sma200": indicators.sma200,
            "ema12": indicators.ema12,
            "ema26": indicators.ema26,
            "rsi14": indicators.rsi14,
            "macd": indicators.macd,
            "macd_signal": indicators.macd_signal,
            "macd_histogram": indicators.macd_histogram,
        },
        "created_at": prediction.created_at,
    }


def _prediction(row: Row[Any]) -> Prediction:
    probabilities = row.probabilities
    indicators = row.indicators
    signal = Signal(
        recommendation=Recommendation(row.recommendation),
        confidence=row.confidence,
        probabilities=ProbabilityDistribution(
            buy=probabilities["buy"], hold=probabilities["hold"], sell=probabilities["sell"]
        ),
        method=PredictionMethod(row.method),
        model_version=row.model_version,
        horizon_days=row.horizon_days,
        price=row.price,
        as_of=row.as_of,
        reasons=tuple(Reason(code=r["code"], description=r["description"]) for r in row.reasons),
        indicators=IndicatorSnapshot(
            sma50=indicators["sma50"],
            sma200=indicators["sma200"],
            ema12=indicators["ema12"],
            ema26=indicators["ema26"],
            rsi14=indicators["rsi14"],
            macd=indicators["macd"],
            macd_signal=indicators["macd_signal"],
            macd_histogram=indicators["macd_histogram"],
        ),
    )
    return Prediction(id=row.id, symbol=row.symbol, signal=signal, created_at=row.created_at)
