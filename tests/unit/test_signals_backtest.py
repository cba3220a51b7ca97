from __future__ import annotations

import math

import numpy as np
import pytest

from domain.signals.backtest import buy_and_hold, long_flat
from domain.signals.labels import BUY, HOLD, SELL
from tests.support.price_walks import weekdays

CLOSE = np.array([100.0, 110.0, 99.0, 99.0, 108.9])
DAYS = weekdays(5)
COST = 1 - 10 / 10_000  # 10 bp


def test_long_flat_buys_on_buy_keeps_on_hold_and_sells_on_sell() -> None:
    result = long_flat(DAYS, CLOSE, np.array([BUY, HOLD, SELL, BUY, HOLD], np.int8), cost_bps=10)

    # Long from close 0 (one cost), +10%, -10% and sold at close 2 (a cost), flat, bought
    # back at close 3 (a cost), +10%.
    e0 = COST
    e1 = e0 * 1.1
    e2 = e1 * 0.9 * COST
    e3 = e2 * COST
    e4 = e3 * 1.1
    assert [p.equity for p in result.curve] == pytest.approx([e0, e1, e2, e3, e4])
    assert [p.position for p in result.curve] == [1, 1, 0, 1, 1]
    assert result.metrics.trades == 3
    assert result.metrics.total_return == pytest.approx(e4 - 1)
    assert result.metrics.max_drawdown == pytest.approx(1 - e3 / e1)
    assert result.metrics.exposure == pytest.approx(0.8)


def test_the_strategy_starts_flat_and_hold_keeps_it_flat() -> None:
    result = long_flat(DAYS, CLOSE, np.full(5, HOLD, np.int8), cost_bps=10)

    assert result.metrics.total_return == 0.0
    assert result.metrics.trades == 0
    assert result.metrics.sharpe == 0.0


def test_buy_and_hold_pays_one_trade_and_rides_every_day() -> None:
    result = buy_and_hold(DAYS, CLOSE, cost_bps=10)

    daily = [1.1 - 1, 99 / 110 - 1, 0.0, 0.1]
    assert result.metrics.total_return == pytest.approx(COST * 1.089 - 1)
    assert result.metrics.trades == 1
    assert result.metrics.sharpe == pytest.approx(
        np.mean(daily) / np.std(daily, ddof=1) * math.sqrt(252)
    )
