from __future__ import annotations

import numpy as np
import pytest

from domain import indicators
from domain.signals.recommendations import PredictionMethod, Reason, Recommendation
from domain.signals.rules import Vote, rule_classes, rules_signal, vote_probabilities
from domain.signals.technicals import Technicals
from tests.support.price_walks import random_walk, series_of

CODES = {Recommendation.SELL: 0, Recommendation.HOLD: 1, Recommendation.BUY: 2}


def trend(count: int, daily: float, *, seed: int = 1) -> np.ndarray:
    """Closes moving `daily` (a fraction) a day on average, with noise of 0.5%."""
    noise = np.random.default_rng(seed).normal(0.0, 0.005, size=count)
    return 100.0 * np.cumprod(1.0 + daily + noise)


def codes(reasons: tuple[Reason, ...]) -> list[str]:
    return [reason.code for reason in reasons]


def test_rsi_below_30_votes_buy_with_its_value() -> None:
    close = trend(40, -0.01)
    rsi = indicators.rsi(close, 14)[-1]

    signal = rules_signal(series_of(close), horizon_days=5)

    assert rsi < 30
    assert Reason("RSI_OVERSOLD", f"RSI(14) = {rsi:.1f} < 30") in signal.reasons


def test_rsi_above_70_votes_sell_with_its_value() -> None:
    close = trend(40, 0.01)
    rsi = indicators.rsi(close, 14)[-1]

    signal = rules_signal(series_of(close), horizon_days=5)

    assert rsi > 70
    assert Reason("RSI_OVERBOUGHT", f"RSI(14) = {rsi:.1f} > 70") in signal.reasons


def path(*legs: tuple[int, float], seed: int = 1) -> np.ndarray:
    """Closes from 100 moving in straight legs of (days, step in price units a day), with
    noise of 0.3 a day."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([rng.normal(step, 0.3, size=days) for days, step in legs])
    return 100.0 + np.concatenate([[0.0], np.cumsum(steps)])


def first_cross(close: np.ndarray, *, after: int, upwards: bool) -> int:
    lines = indicators.macd(close, 12, 26, 9)
    above = lines.macd > lines.signal
    return next(t for t in range(after, len(close)) if above[t] == upwards != above[t - 1])


@pytest.mark.parametrize(
    ("upwards", "code", "words"),
    [(True, "MACD_BULLISH_CROSS", "crossed above"), (False, "MACD_BEARISH_CROSS", "crossed below")],
)
def test_macd_crossing_its_signal_on_the_last_bar_votes_with_both_bars(
    upwards: bool, code: str, words: str
) -> None:
    # A 60-day wave: MACD crosses its signal cleanly once up and once down per period.
    close = 100.0 + 10.0 * np.sin(np.arange(200) * 2 * np.pi / 60)
    t = first_cross(close, after=40, upwards=upwards)
    lines = indicators.macd(close[: t + 1], 12, 26, 9)

    on_cross = rules_signal(series_of(close[: t + 1]), horizon_days=5)
    day_before = rules_signal(series_of(close[:t]), horizon_days=5)
    day_after = rules_signal(series_of(close[: t + 2]), horizon_days=5)

    expected = (
        f"MACD {lines.macd[t]:.3f} vs signal {lines.signal[t]:.3f}, previous bar "
        f"{lines.macd[t - 1]:.3f} vs {lines.signal[t - 1]:.3f}: {words}"
    )
    assert Reason(code, expected) in on_cross.reasons
    assert code not in codes(day_before.reasons) + codes(day_after.reasons)


def test_sma50_above_sma200_votes_buy_with_both_averages() -> None:
    close = trend(250, 0.002)
    fast, slow = np.mean(close[-50:]), np.mean(close[-200:])

    signal = rules_signal(series_of(close), horizon_days=5)

    assert Reason("SMA_UPTREND", f"SMA(50) = {fast:.2f} > SMA(200) = {slow:.2f}") in signal.reasons


def test_sma50_below_sma200_votes_sell_with_both_averages() -> None:
    close = trend(250, -0.002)
    fast, slow = np.mean(close[-50:]), np.mean(close[-200:])

    signal = rules_signal(series_of(close), horizon_days=5)

    assert (
        Reason("SMA_DOWNTREND", f"SMA(50) = {fast:.2f} < SMA(200) = {slow:.2f}") in signal.reasons
    )


def test_two_agreeing_rules_sell_with_two_thirds() -> None:
    # A long fall, then a sharp bounce: overbought inside a downtrend.
    close = path((250, -0.2), (15, 1.0))
    t = int(np.flatnonzero(rule_classes(Technicals.of(close)) == CODES[Recommendation.SELL])[-1])

    signal = rules_signal(series_of(close[: t + 1]), horizon_days=5)

    assert signal.recommendation is Recommendation.SELL
    assert codes(signal.reasons) == ["RSI_OVERBOUGHT", "SMA_DOWNTREND"]
    p = signal.probabilities
    assert (p.buy, p.hold, p.sell) == (0.0, 1 / 3, 2 / 3)
    assert signal.confidence == 2 / 3


def test_one_rule_alone_holds() -> None:
    signal = rules_signal(series_of(path((250, 0.05), seed=2)), horizon_days=5)

    assert codes(signal.reasons) == ["SMA_UPTREND"]
    assert signal.recommendation is Recommendation.HOLD
    assert signal.probabilities.hold == 2 / 3


def test_opposite_votes_hold_with_a_third_each() -> None:
    probabilities = vote_probabilities(
        [
            Vote(Recommendation.BUY, Reason("A", "a")),
            Vote(Recommendation.SELL, Reason("B", "b")),
        ]
    )

    assert (probabilities.buy, probabilities.hold, probabilities.sell) == (1 / 3, 1 / 3, 1 / 3)
    assert probabilities.most_likely() is Recommendation.HOLD


@pytest.mark.parametrize("count", [1, 20, 40, 120, 260])
def test_probabilities_sum_to_one_and_confidence_is_the_recommendations(count: int) -> None:
    signal = rules_signal(random_walk(count, seed=count), horizon_days=5)
    p = signal.probabilities

    assert p.buy + p.hold + p.sell == pytest.approx(1.0)
    assert signal.confidence == p.of(signal.recommendation)
    assert signal.method is PredictionMethod.RULES
    assert signal.model_version is None


def test_a_short_series_holds_with_no_reasons_and_no_indicators() -> None:
    signal = rules_signal(series_of([10.0, 11.0, 12.0]), horizon_days=5)

    assert signal.recommendation is Recommendation.HOLD
    assert signal.probabilities.hold == 1.0
    assert signal.reasons == ()
    assert signal.indicators.sma50 is None
    assert signal.indicators.rsi14 is None
    assert signal.price == 12.0


def test_the_signal_carries_the_last_points_indicators() -> None:
    series = random_walk(260, seed=3)

    snapshot = rules_signal(series, horizon_days=5).indicators

    lines = indicators.macd(series.close, 12, 26, 9)
    assert snapshot.sma200 == pytest.approx(np.mean(series.close[-200:]))
    assert snapshot.ema12 == indicators.ema(series.close, 12)[-1]
    assert snapshot.rsi14 == indicators.rsi(series.close, 14)[-1]
    assert snapshot.macd_histogram == lines.histogram[-1]


def test_the_vectorised_rules_match_the_signal_of_every_prefix() -> None:
    series = random_walk(300, seed=12)
    every_point = rule_classes(Technicals.of(series.close))

    one_by_one = [
        CODES[rules_signal(series.head(t + 1), horizon_days=5).recommendation]
        for t in range(len(series))
    ]

    assert every_point.tolist() == one_by_one
    assert set(one_by_one) == {0, 1, 2}
