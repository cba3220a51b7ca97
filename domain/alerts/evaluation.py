"""The pure evaluation that decides whether an alert fires on an event, and how a firing reads."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from domain.alerts.model import (
    ABOVE_CONDITIONS,
    CROSS_CONDITIONS,
    PERCENT_CONDITIONS,
    RSI_CONDITIONS,
    Alert,
    AlertCondition,
    AlertFrequency,
)
from domain.events import PriceUpdated


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one event did to an alert: `alert` is its next state (equal to the input when
    nothing changed), `fired` whether it fires now, and `value` the observed number the
    condition compared (price, percent change or RSI; None when the event had none)."""

    alert: Alert
    fired: bool
    value: float | None = None


def is_expired(alert: Alert, now: datetime) -> bool:
    """True from expires_at on (an alert expiring at `now` is already expired)."""
    return alert.expires_at is not None and alert.expires_at <= now


def evaluate_price(
    alert: Alert, event: PriceUpdated, *, now: datetime, rsi: float | None = None
) -> Evaluation:
    """Whether `alert` fires on `event` at `now`, and its next state.

    Comparisons are strict: a value equal to the threshold does not fire.
    - PRICE_ABOVE/BELOW fire whenever the price is beyond the threshold, also on the first
      update after creation.
    - CROSSES_ABOVE/BELOW fire only on a fresh cross: the previous observed price at or below
      (at or above) the threshold, this one above (below). The first observation only records
      the side.
    - PERCENT_CHANGE_ABOVE/BELOW compare event.change_percent (percent since the previous close,
      not a fraction); RSI_ABOVE/BELOW compare `rsi`. Without that number nothing fires.
    - RECOMMENDATION_CHANGED never fires on prices (see evaluate_recommendation).
    Frequencies: ONCE deactivates after firing; ONCE_PER_DAY fires at most once per UTC calendar
    day of `now`; EVERY_TIME fires on every update where the condition holds. Inactive alerts
    and alerts of another symbol are left unchanged; expired ones never fire and come back
    deactivated. A crossing seen while the frequency holds the alert back still moves its state.
    """
    if not alert.active or alert.symbol != event.symbol or not math.isfinite(event.price):
        return Evaluation(alert, fired=False)
    if alert.condition is AlertCondition.RECOMMENDATION_CHANGED:
        return Evaluation(alert, fired=False)
    if is_expired(alert, now):
        return Evaluation(replace(alert, active=False), fired=False)
    threshold = alert.threshold
    if threshold is None:  # only RECOMMENDATION_CHANGED has none
        return Evaluation(alert, fired=False)
    condition = alert.condition
    if condition in CROSS_CONDITIONS:
        return _evaluate_cross(alert, threshold, event.price, now)
    value = _observed(condition, event, rsi)
    if value is None or not math.isfinite(value):
        return Evaluation(alert, fired=False, value=value)
    holds = value > threshold if condition in ABOVE_CONDITIONS else value < threshold
    return _outcome(alert, holds=holds, value=value, now=now)


def evaluate_recommendation(
    alert: Alert, *, symbol: str, old: str | None, new: str, now: datetime
) -> Evaluation:
    """Whether a RECOMMENDATION_CHANGED alert fires because the stored recommendation of
    `symbol` went from `old` to `new` ("BUY", "SELL", "HOLD") at `now`.

    Fires only on a real change: a first recommendation (old None) or the same one again does
    not. Frequencies and expiry apply as in evaluate_price; other alerts are left unchanged."""
    if (
        not alert.active
        or alert.symbol != symbol
        or alert.condition is not AlertCondition.RECOMMENDATION_CHANGED
    ):
        return Evaluation(alert, fired=False)
    if is_expired(alert, now):
        return Evaluation(replace(alert, active=False), fired=False)
    return _outcome(alert, holds=old is not None and old != new, value=None, now=now)


def _observed(condition: AlertCondition, event: PriceUpdated, rsi: float | None) -> float | None:
    if condition in PERCENT_CONDITIONS:
        return event.change_percent
    if condition in RSI_CONDITIONS:
        return rsi
    return event.price


def _evaluate_cross(alert: Alert, threshold: float, price: float, now: datetime) -> Evaluation:
    def beyond(value: float) -> bool:
        if alert.condition is AlertCondition.CROSSES_ABOVE:
            return value > threshold
        return value < threshold

    previous = alert.last_value
    state = alert
    if previous is None or beyond(previous) != beyond(price):
        state = replace(alert, last_value=price)
    crossed = previous is not None and not beyond(previous) and beyond(price)
    return _outcome(state, holds=crossed, value=price, now=now)


def _outcome(alert: Alert, *, holds: bool, value: float | None, now: datetime) -> Evaluation:
    if not holds or not _may_fire(alert, now):
        return Evaluation(alert, fired=False, value=value)
    fired = replace(alert, last_triggered_at=now, active=alert.frequency is not AlertFrequency.ONCE)
    return Evaluation(fired, fired=True, value=value)


def _may_fire(alert: Alert, now: datetime) -> bool:
    last = alert.last_triggered_at
    if alert.frequency is AlertFrequency.ONCE_PER_DAY and last is not None:
        return last.astimezone(UTC).date() != now.astimezone(UTC).date()
    return True


def describe_firing(alert: Alert, *, price: float, value: float | None) -> str:
    """The notification text of a firing price alert, with its numbers, e.g.
    "AAPL crossed above 180.00 at 180.42" or "AAPL changed +5.20% since the previous close,
    above +5.00% (price 191.10)". Prices and percents have 2 decimals, RSI 1."""
    symbol, condition, threshold = alert.symbol, alert.condition, alert.threshold or 0.0
    direction = "above" if condition in ABOVE_CONDITIONS else "below"
    if condition in CROSS_CONDITIONS:
        return f"{symbol} crossed {direction} {threshold:.2f} at {price:.2f}"
    if condition in PERCENT_CONDITIONS:
        return (
            f"{symbol} changed {value or 0.0:+.2f}% since the previous close, "
            f"{direction} {threshold:+.2f}% (price {price:.2f})"
        )
    if condition in RSI_CONDITIONS:
        return (
            f"{symbol} RSI is {value or 0.0:.1f}, {direction} {threshold:.1f} (price {price:.2f})"
        )
    return f"{symbol} is {direction} {threshold:.2f} at {price:.2f}"
