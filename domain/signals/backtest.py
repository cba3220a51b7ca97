"""A long/flat strategy driven by recommendations, against buy-and-hold.

Decisions are taken at each close: BUY goes (or stays) long, SELL goes (or stays) flat, HOLD
keeps the position; the strategy starts flat. A position taken at close i earns the return
from close i to close i + 1, so the recommendation at i never sees its own future. Each
change of position costs `cost_bps` basis points of equity (1 bp = 0.01%). Buy-and-hold
buys at the first close, paying the same cost once. Nothing is sold at the end.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from domain.signals.labels import BUY, SELL, ClassArray
from domain.signals.prices import FloatArray

TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True, slots=True)
class StrategyMetrics:
    """`total_return` and `max_drawdown` are fractions (0.25 = 25%; the drawdown is the
    largest fall from a running peak, >= 0). `sharpe` is the mean over the standard deviation
    of daily returns times sqrt(252), risk-free rate 0; 0 when the returns do not vary.
    `trades` counts position changes; `exposure` is the fraction of days held long."""

    total_return: float
    sharpe: float
    max_drawdown: float
    trades: int
    exposure: float
    days: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrategyMetrics:
        return cls(
            total_return=float(data["total_return"]),
            sharpe=float(data["sharpe"]),
            max_drawdown=float(data["max_drawdown"]),
            trades=int(data["trades"]),
            exposure=float(data["exposure"]),
            days=int(data["days"]),
        )


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """Equity (1.0 at the start) marked at a close, after that close's trade; `position` is
    1 when long from that close on, else 0."""

    timestamp: datetime
    equity: float
    position: int


@dataclass(frozen=True, slots=True)
class Backtest:
    metrics: StrategyMetrics
    curve: tuple[EquityPoint, ...]


def long_flat(
    timestamps: tuple[datetime, ...], close: FloatArray, classes: ClassArray, *, cost_bps: float
) -> Backtest:
    """Run the long/flat strategy over consecutive closes with the recommendation (class
    code) at each close. Needs at least one point."""
    positions = np.zeros(len(classes), dtype=np.int8)
    held = 0
    for i, code in enumerate(classes.tolist()):
        if code == BUY:
            held = 1
        elif code == SELL:
            held = 0
        positions[i] = held
    return _run(timestamps, close, positions, cost_bps)


def buy_and_hold(
    timestamps: tuple[datetime, ...], close: FloatArray, *, cost_bps: float
) -> Backtest:
    return _run(timestamps, close, np.ones(len(close), dtype=np.int8), cost_bps)


def _run(
    timestamps: tuple[datetime, ...], close: FloatArray, positions: ClassArray, cost_bps: float
) -> Backtest:
    n = len(close)
    if n == 0 or len(timestamps) != n or len(positions) != n:
        raise ValueError("need one timestamp, close and position per point, at least one")
    if not (math.isfinite(cost_bps) and cost_bps >= 0):
        raise ValueError(f"cost_bps must be >= 0, not {cost_bps}")
    held = positions.astype(np.float64)
    changes = np.abs(np.diff(held, prepend=0.0))
    growth = np.ones(n)
    # The position held since the previous close earns this close's return.
    growth[1:] = 1.0 + held[:-1] * (close[1:] / close[:-1] - 1.0)
    growth *= 1.0 - changes * cost_bps / 10_000
    equity = np.cumprod(growth)
    peaks = np.maximum.accumulate(np.concatenate(([1.0], equity)))[1:]
    metrics = StrategyMetrics(
        total_return=float(equity[-1] - 1.0),
        sharpe=_sharpe(equity[1:] / equity[:-1] - 1.0),
        max_drawdown=float(np.max(1.0 - equity / peaks)),
        trades=int(changes.sum()),
        exposure=float(held.mean()),
        days=n,
    )
    curve = tuple(
        EquityPoint(timestamp=t, equity=e, position=p)
        for t, e, p in zip(timestamps, equity.tolist(), positions.tolist(), strict=True)
    )
    return Backtest(metrics=metrics, curve=curve)


def _sharpe(daily: FloatArray) -> float:
    if len(daily) < 2:
        return 0.0
    deviation = float(np.std(daily, ddof=1))
    if deviation == 0.0 or not math.isfinite(deviation):
        return 0.0
    return float(np.mean(daily)) / deviation * math.sqrt(TRADING_DAYS_PER_YEAR)
