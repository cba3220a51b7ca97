"""The RULES baseline: three indicator rules vote BUY or SELL.

- RSI(14) < 30 votes BUY (oversold), RSI(14) > 70 votes SELL (overbought).
- MACD(12/26/9) crossing above its signal line on the last bar votes BUY, crossing below
  votes SELL (a cross: the order of the two lines differs between the previous bar and the
  last one, with the last difference not zero).
- SMA(50) above SMA(200) votes BUY (uptrend), below votes SELL.

Votes become probabilities by giving each of the three rules a weight of 1/3: a rule that
fired adds it to its side, a rule that did not fire (or lacks the data to decide) adds it to
HOLD. So the probabilities are multiples of 1/3 and sum to 1. The recommendation is the most
probable side, ties going to HOLD: BUY (or SELL) needs at least two of the three rules on its
side. Every rule that fired is a Reason carrying its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.signals.prices import PriceSeries
from domain.signals.recommendations import (
    PredictionMethod,
    ProbabilityDistribution,
    Reason,
    Recommendation,
    Signal,
)
from domain.signals.technicals import Technicals

RSI_OVERSOLD = 30.0
RSI_OVERBOUGHT = 70.0
RULE_COUNT = 3


@dataclass(frozen=True, slots=True)
class Vote:
    side: Recommendation
    reason: Reason


def rule_votes(technicals: Technicals, index: int) -> list[Vote]:
    """The votes of the rules that fire at `index` (negative counts from the end); the MACD
    rule needs the bar before `index` too, and never fires on the first bar."""
    votes: list[Vote] = []
    rsi = float(technicals.rsi14[index])
    if rsi < RSI_OVERSOLD:
        votes.append(_vote(Recommendation.BUY, "RSI_OVERSOLD", f"RSI(14) = {rsi:.1f} < 30"))
    elif rsi > RSI_OVERBOUGHT:
        votes.append(_vote(Recommendation.SELL, "RSI_OVERBOUGHT", f"RSI(14) = {rsi:.1f} > 70"))

    position = index if index >= 0 else len(technicals.macd) + index
    if position >= 1:
        now = float(technicals.macd[position] - technicals.macd_signal[position])
        before = float(technicals.macd[position - 1] - technicals.macd_signal[position - 1])
        lines = (
            f"MACD {technicals.macd[position]:.3f} vs signal "
            f"{technicals.macd_signal[position]:.3f}, previous bar "
            f"{technicals.macd[position - 1]:.3f} vs {technicals.macd_signal[position - 1]:.3f}"
        )
        # NaN compares false, so a cross is only seen once both bars have both lines.
        if before <= 0 < now:
            votes.append(_vote(Recommendation.BUY, "MACD_BULLISH_CROSS", f"{lines}: crossed above"))
        elif before >= 0 > now:
            votes.append(
                _vote(Recommendation.SELL, "MACD_BEARISH_CROSS", f"{lines}: crossed below")
            )

    fast, slow = float(technicals.sma50[index]), float(technicals.sma200[index])
    if fast > slow:
        votes.append(
            _vote(
                Recommendation.BUY, "SMA_UPTREND", f"SMA(50) = {fast:.2f} > SMA(200) = {slow:.2f}"
            )
        )
    elif fast < slow:
        votes.append(
            _vote(
                Recommendation.SELL,
                "SMA_DOWNTREND",
                f"SMA(50) = {fast:.2f} < SMA(200) = {slow:.2f}",
            )
        )
    return votes


def vote_probabilities(votes: list[Vote]) -> ProbabilityDistribution:
    """1/3 per rule to the side it voted for; 1/3 per silent rule to HOLD."""
    buy = sum(1 for vote in votes if vote.side is Recommendation.BUY)
    sell = sum(1 for vote in votes if vote.side is Recommendation.SELL)
    return ProbabilityDistribution(
        buy=buy / RULE_COUNT,
        hold=(RULE_COUNT - buy - sell) / RULE_COUNT,
        sell=sell / RULE_COUNT,
    )


def rules_signal(series: PriceSeries, *, horizon_days: int) -> Signal:
    """The RULES signal for the last point of `series` (at least one point).

    Rules whose indicators are still warming up stay silent (SMA(200) needs 200 closes,
    MACD 35 for a cross, RSI 15), so a short series leans to HOLD. `horizon_days` is only
    carried into the Signal: the rules do not depend on it.
    """
    if len(series) == 0:
        raise ValueError("an empty series has no last point")
    technicals = Technicals.of(series.close)
    votes = rule_votes(technicals, -1)
    probabilities = vote_probabilities(votes)
    recommendation = probabilities.most_likely()
    return Signal(
        recommendation=recommendation,
        confidence=probabilities.of(recommendation),
        probabilities=probabilities,
        method=PredictionMethod.RULES,
        model_version=None,
        horizon_days=horizon_days,
        price=float(series.close[-1]),
        as_of=series.timestamps[-1],
        reasons=tuple(vote.reason for vote in votes),
        indicators=technicals.snapshot(-1),
    )


def rule_classes(technicals: Technicals) -> npt.NDArray[np.int8]:
    """The rules' recommendation at every index as class codes (see labels.CLASS_ORDER:
    0 SELL, 1 HOLD, 2 BUY); vectorised, equal to `rules_signal` on each prefix."""
    rsi = technicals.rsi14
    diff = technicals.macd - technicals.macd_signal
    previous = np.concatenate(([np.nan], diff[:-1]))
    with np.errstate(invalid="ignore"):
        buy = (
            (rsi < RSI_OVERSOLD).astype(np.int8)
            + ((previous <= 0) & (diff > 0))
            + (technicals.sma50 > technicals.sma200)
        )
        sell = (
            (rsi > RSI_OVERBOUGHT).astype(np.int8)
            + ((previous >= 0) & (diff < 0))
            + (technicals.sma50 < technicals.sma200)
        )
    hold = RULE_COUNT - buy - sell
    classes = np.full(len(rsi), 1, dtype=np.int8)
    classes[(buy > hold) & (buy > sell)] = 2
    classes[(sell > hold) & (sell > buy)] = 0
    return classes


def _vote(side: Recommendation, code: str, description: str) -> Vote:
    return Vote(side=side, reason=Reason(code=code, description=description))
