"""Price alerts: the Alert value, its conditions and frequencies, the AlertStore port and the
validation of new alerts."""

from __future__ import annotations

import enum
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.errors import FieldProblem, InvalidInput, ValidationFailed
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


# Kinds of condition, for validation (here) and evaluation (domain.alerts.evaluation).
PRICE_CONDITIONS = frozenset(
    {
        AlertCondition.PRICE_ABOVE,
        AlertCondition.PRICE_BELOW,
        AlertCondition.CROSSES_ABOVE,
        AlertCondition.CROSSES_BELOW,
    }
)
CROSS_CONDITIONS = frozenset({AlertCondition.CROSSES_ABOVE, AlertCondition.CROSSES_BELOW})
PERCENT_CONDITIONS = frozenset(
    {AlertCondition.PERCENT_CHANGE_ABOVE, AlertCondition.PERCENT_CHANGE_BELOW}
)
RSI_CONDITIONS = frozenset({AlertCondition.RSI_ABOVE, AlertCondition.RSI_BELOW})
ABOVE_CONDITIONS = frozenset(
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

    async def active_for_symbols(self, symbols: Collection[str]) -> dict[str, list[Alert]]:
        """Every user's active alerts on each of `symbols` (expired ones included until
        deactivated), oldest first; a symbol without any may be left out."""
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
    if condition in PRICE_CONDITIONS and not 0 < threshold <= MAX_PRICE_THRESHOLD:
        message = f"A price threshold is above 0 and at most {MAX_PRICE_THRESHOLD:g}"
    elif condition in PERCENT_CONDITIONS and not (
        PERCENT_THRESHOLD[0] < threshold <= PERCENT_THRESHOLD[1]
    ):
        message = "A percent change threshold is above -100 and at most 10000"
    elif condition in RSI_CONDITIONS and not RSI_THRESHOLD[0] <= threshold <= RSI_THRESHOLD[1]:
        message = "An RSI threshold is from 0 to 100"
    else:
        return []
    return [FieldProblem("threshold", message, "OUT_OF_RANGE")]
