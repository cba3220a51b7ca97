"""How often the worker polls which tracked symbols' quotes, within the provider's budget.

Without a call budget (the simulator, csv files) each round polls every tracked symbol. With
Alpha Vantage a round makes only as many quote calls as the budget allows, QUOTE_SHARE of
both its per-minute and its per-day calls (the rest is left for history and search), and
polls the symbols polled least recently: more tracked symbols (see
domain.tracked_symbols) make each one's price come less often, never more calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.settings import Settings

QUOTE_SHARE = 0.8
# Alpaca's free plan allows 200 calls a minute: a round of snapshots every 15 s leaves most of
# them for history even with 30 tracked symbols.
ALPACA_POLL_SECONDS = 15.0
MINUTE = 60.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class QuotePollPlan:
    """A round every `interval_seconds`, polling `calls_per_round` symbols (None: all)."""

    interval_seconds: float
    calls_per_round: int | None = None


def quote_poll_plan(settings: Settings, provider: str) -> QuotePollPlan:
    """Without a budget: a round every STOCKQL_QUOTE_POLL_SECONDS, else every simulator tick
    (every ALPACA_POLL_SECONDS with Alpaca).
    With Alpha Vantage: a round every STOCKQL_QUOTE_POLL_SECONDS, else every minute, but
    never more often than one quote call's share of the budget; each round polls as many
    symbols as the budget gives it calls (at least one)."""
    if provider == "alpaca":
        return QuotePollPlan(settings.quote_poll_seconds or ALPACA_POLL_SECONDS)
    if provider != "alphavantage":
        return QuotePollPlan(settings.quote_poll_seconds or settings.simulator_tick_seconds)
    seconds_per_call = max(
        MINUTE / (settings.alphavantage_calls_per_minute * QUOTE_SHARE),
        DAY / (settings.alphavantage_calls_per_day * QUOTE_SHARE),
    )
    interval = max(settings.quote_poll_seconds or MINUTE, seconds_per_call)
    # A little under the exact quotient: 60 / 15.000000001 still gives four calls.
    return QuotePollPlan(interval, max(1, math.floor(interval / seconds_per_call + 1e-9)))


class QuoteRotation:
    """The symbols of each polling round: all of them, or the `calls_per_round` polled least
    recently (never polled first, in the order given)."""

    def __init__(self, calls_per_round: int | None) -> None:
        if calls_per_round is not None and calls_per_round < 1:
            raise ValueError(f"calls_per_round must be at least 1, not {calls_per_round}")
        self._calls = calls_per_round
        self._rounds = 0
        # Symbol -> the round it was last polled in.
        self._polled: dict[str, int] = {}

    def next_round(self, tracked: Sequence[str]) -> list[str]:
        """The symbols to poll now, out of the `tracked` ones."""
        if self._calls is None:
            return list(tracked)
        self._rounds += 1
        # sorted() is stable: ties keep the tracked order.
        chosen = sorted(tracked, key=lambda symbol: self._polled.get(symbol, 0))[: self._calls]
        # Symbols no longer tracked are forgotten: they start afresh if tracked again.
        polled = self._polled
        self._polled = {symbol: polled[symbol] for symbol in tracked if symbol in polled}
        for symbol in chosen:
            self._polled[symbol] = self._rounds
        return chosen
