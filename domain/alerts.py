"""Price alerts: the Alert value, its conditions and frequencies, the AlertStore port, validation
of new alerts, and the pure evaluation that decides whether an alert fires on an event."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from domain.accounts import FieldProblem, ValidationFailed
from domain.errors import InvalidInput
from domain.events import PriceUpdated
from domain.symbols import normalize_symbol

MAX_ACTIVE_ALERTS = 50

# Accepted thresholds per kind of condition, both ends inclusive unless noted.
MAX_PRICE_THRESHOLD = 1e9  # prices: above 0 (exclusive) up to this
PERCENT_THRESHOLD = (-100.0, 10_000.0)  # percent change: above -100 (exclusive) up to 10,000
RSI_THRESHOLD = (0.0, 100.0)


class AlertCondition(enum.Enum):
    PRICE_ABOVE = "PRICE_ABOVE"
    PRICE_BELOW = "PRICE_BELOW"
    CROSSES_ABOVE = "CROSSES_ABOVE"
    CROSSES_BELOW = "CROSSES_BELOW"
    PERCENT_CHANGE_ABOVE = "PERCENT_CHANGE_ABOVE"
    PERCENT_CHANGE_BELOW = "PERCENT_CHANGE_BELOW"
    RSI_ABOVE = "RSI_ABOVE"
    RSI_BELOW = "RSI_BELOW"
    RECOMMENDATION_CHANGED = "RECOMMENDATION_CHANGED"


class AlertFrequency(enum.Enum):
    ONCE = "ONCE"
    ONCE_PER_DAY = "ONCE_PER_DAY"
    EVERY_TIME = "EVERY_TIME"


_PRICE = frozenset(
    {
        AlertCondition.PRICE_ABOVE,
        AlertCondition.PRICE_BELOW,
        AlertCondition.CROSSES_ABOVE,
        AlertCondition.CROSSES_BELOW,
    }
)
_CROSSES = frozenset({AlertCondition.CROSSES_ABOVE, AlertCondition.CROSSES_BELOW})
_PERCENT = frozenset({AlertCondition.PERCENT_CHANGE_ABOVE, AlertCondition.PERCENT_CHANGE_BELOW})
_RSI = frozenset({AlertCondition.RSI_ABOVE, AlertCondition.RSI_BELOW})
_ABOVE = frozenset(
    {
        AlertCondition.PRICE_ABOVE,
        AlertCondition.CROSSES_ABOVE,
        AlertCondition.PERCENT_CHANGE_ABOVE,
        AlertCondition.RSI_ABOVE,
    }
)


@dataclass(frozen=True, slots=True)
class Alert:
    """A user's alert on one symbol. `threshold` is a price, a percent or an RSI value by
    condition, and None for RECOMMENDATION_CHANGED. An inactive alert never fires again.

    `last_value` is evaluation state of CROSSES_* alerts: the latest observed price that put the
    alert on its current side of the threshold, None before the first observation. Only its side
    matters, so it changes only when the side does (no write per price update)."""

    id: str
    user_id: str
    symbol: str
    condition: AlertCondition
    threshold: float | None
    frequency: AlertFrequency
    created_at: datetime
    active: bool = True
    expires_at: datetime | None = None
    last_triggered_at: datetime | None = None
    last_value: float | None = None


class TooManyAlerts(Exception):
    """The user already has the maximum number of active alerts."""


class AlertStore(Protocol):
    """Where alerts live. Every method is atomic on its own; ids are made by the caller."""

    async def add(self, alert: Alert, *, max_active: int) -> None:
        """Insert `alert`. Raises TooManyAlerts, inserting nothing, when its user already has
        `max_active` active alerts not expired at alert.created_at; concurrent adds of one
        user take turns, so the limit holds under races."""
        ...

    async def get(self, alert_id: str) -> Alert | None: ...

    async def for_user(self, user_id: str) -> list[Alert]:
        """The user's alerts, active or not, oldest first."""
        ...

    async def active_for_symbol(self, symbol: str) -> list[Alert]:
        """Every user's active alerts on `symbol` (expired ones included until deactivated)."""
        ...

    async def save_state(self, previous: Alert, updated: Alert) -> bool:
        """Write updated's evaluation state (active, last_triggered_at, last_value) if the
        stored alert still has previous's; False when another evaluation changed it first or
        the alert is gone. This is what makes a ONCE alert fire once under concurrent events."""
        ...

    async def delete(self, user_id: str, alert_id: str) -> bool:
        """Remove the alert if it belongs to `user_id`; True when one was removed."""
        ...

    async def deactivate_expired(self, now: datetime) -> int:
        """Deactivate active alerts with expires_at <= now; returns how many."""
        ...


def new_alert(
    *,
    id: str,
    user_id: str,
    symbol: str,
    condition: AlertCondition,
    threshold: float | None,
    frequency: AlertFrequency,
    expires_at: datetime | None,
    now: datetime,
) -> Alert:
    """A validated, active alert created at `now`.

    The symbol is normalised ("aapl" -> "AAPL"). `threshold` is required and finite for every
    condition but RECOMMENDATION_CHANGED (where it is ignored and stored as None): a price in
    (0, 1e9], a percent in (-100, 10000], an RSI in [0, 100]. `expires_at`, when given, must be
    after `now`. Raises ValidationFailed naming every bad field (symbol, threshold, expiresAt).
    """
    problems: list[FieldProblem] = []
    try:
        symbol = normalize_symbol(symbol)
    except InvalidInput as error:
        problems.append(FieldProblem("symbol", error.message, "INVALID"))
    if condition is AlertCondition.RECOMMENDATION_CHANGED:
        threshold = None
    else:
        problems += _threshold_problems(condition, threshold)
    if expires_at is not None and expires_at <= now:
        problems.append(FieldProblem("expiresAt", "The expiry must be in the future", "IN_PAST"))
    if problems:
        raise ValidationFailed(problems)
    return Alert(
        id=id,
        user_id=user_id,
        symbol=symbol,
        condition=condition,
        threshold=threshold,
        frequency=frequency,
        created_at=now,
        expires_at=expires_at,
    )


def too_many_alerts(max_active: int = MAX_ACTIVE_ALERTS) -> ValidationFailed:
    """The validation failure reported when a user would exceed `max_active` active alerts."""
    message = f"You can have at most {max_active} active alerts; delete one first"
    return ValidationFailed([FieldProblem("input", message, "TOO_MANY")])


def _threshold_problems(condition: AlertCondition, threshold: float | None) -> list[FieldProblem]:
    if threshold is None:
        return [FieldProblem("threshold", "This condition needs a threshold", "REQUIRED")]
    if not math.isfinite(threshold):
        return [FieldProblem("threshold", "The threshold must be a finite number", "NOT_FINITE")]
    if condition in _PRICE and not 0 < threshold <= MAX_PRICE_THRESHOLD:
        message = f"A price threshold is above 0 and at most {MAX_PRICE_THRESHOLD:g}"
    elif condition in _PERCENT and not PERCENT_THRESHOLD[0] < threshold <= PERCENT_THRESHOLD[1]:
        message = "A percent change threshold is above -100 and at most 10000"
    elif condition in _RSI and not RSI_THRESHOLD[0] <= threshold <= RSI_THRESHOLD[1]:
        message = "An RSI threshold is from 0 to 100"
    else:
        return []
    return [FieldProblem("threshold", message, "OUT_OF_RANGE")]


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
    if condition in _CROSSES:
        return _evaluate_cross(alert, threshold, event.price, now)
    value = _observed(condition, event, rsi)
    if value is None or not math.isfinite(value):
        return Evaluation(alert, fired=False, value=value)
    holds = value > threshold if condition in _ABOVE else value < threshold
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
    if condition in _PERCENT:
        return event.change_percent
    if condition in _RSI:
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
    direction = "above" if condition in _ABOVE else "below"
    if condition in _CROSSES:
        return f"{symbol} crossed {direction} {threshold:.2f} at {price:.2f}"
    if condition in _PERCENT:
        return (
            f"{symbol} changed {value or 0.0:+.2f}% since the previous close, "
            f"{direction} {threshold:+.2f}% (price {price:.2f})"
        )
    if condition in _RSI:
        return (
            f"{symbol} RSI is {value or 0.0:.1f}, {direction} {threshold:.1f} (price {price:.2f})"
        )
    return f"{symbol} is {direction} {threshold:.2f} at {price:.2f}"
