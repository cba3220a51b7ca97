"""What a signal says: a recommendation with its probabilities, the reasons and the numbers.

These are plain values, shared by the rules, the model, storage and the API. Probabilities
are fractions in 0..1 that sum to 1; prices are in the listing currency.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime


class Recommendation(enum.Enum):
    BUY = "BUY"
    HOLD = "HOLD"
    SELL = "SELL"


class PredictionMethod(enum.Enum):
    """RULES: the indicator votes. MODEL: a trained classifier."""

    RULES = "RULES"
    MODEL = "MODEL"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a signal says what it says. `code` is UPPER_SNAKE and stable (e.g. RSI_OVERSOLD);
    `description` is for people and carries the numbers ("RSI(14) = 27.4 < 30")."""

    code: str
    description: str


@dataclass(frozen=True, slots=True)
class ProbabilityDistribution:
    """Probabilities of BUY, HOLD and SELL: fractions in 0..1 summing to 1 (within 1e-6)."""

    buy: float
    hold: float
    sell: float

    def __post_init__(self) -> None:
        values = (self.buy, self.hold, self.sell)
        if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in values):
            raise ValueError(f"probabilities must be within 0..1, not {values}")
        if abs(sum(values) - 1.0) > 1e-6:
            raise ValueError(f"probabilities must sum to 1, not {sum(values)}")

    def of(self, recommendation: Recommendation) -> float:
        return {
            Recommendation.BUY: self.buy,
            Recommendation.HOLD: self.hold,
            Recommendation.SELL: self.sell,
        }[recommendation]

    def most_likely(self) -> Recommendation:
        """The most probable recommendation; a tie goes to HOLD, so that BUY and SELL need a
        strict majority over the other two."""
        best = max(self.buy, self.hold, self.sell)
        if self.hold == best or self.buy == self.sell == best:
            return Recommendation.HOLD
        return Recommendation.BUY if self.buy == best else Recommendation.SELL


@dataclass(frozen=True, slots=True)
class IndicatorSnapshot:
    """Indicator values at one point, in price units except `rsi14` (0-100 points).

    A value is None when the series is too short for it: SMA(n) needs n closes, EMA(n) n,
    RSI(14) 15, MACD 12/26/9 (all three lines) 34.
    """

    sma50: float | None
    sma200: float | None
    ema12: float | None
    ema26: float | None
    rsi14: float | None
    macd: float | None
    macd_signal: float | None
    macd_histogram: float | None


@dataclass(frozen=True, slots=True)
class Signal:
    """A recommendation for the point `as_of` (the last bar of the series it came from).

    `confidence` is the probability of `recommendation` (a fraction, 0..1). `model_version`
    is None for RULES. `horizon_days` is the forward horizon, in trading days, that the
    recommendation is about. `price` is the close at `as_of`.
    """

    recommendation: Recommendation
    confidence: float
    probabilities: ProbabilityDistribution
    method: PredictionMethod
    model_version: str | None
    horizon_days: int
    price: float
    as_of: datetime
    reasons: tuple[Reason, ...]
    indicators: IndicatorSnapshot
