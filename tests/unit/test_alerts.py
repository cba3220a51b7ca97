"""Alerts: validation of new alerts and the pure evaluation of every condition and frequency."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.alerts.evaluation import (
    describe_firing,
    evaluate_price,
    evaluate_recommendation,
    is_expired,
)
from domain.alerts.model import Alert, AlertCondition, AlertFrequency, new_alert
from domain.errors import ValidationFailed
from domain.events import PriceUpdated

C = AlertCondition
F = AlertFrequency
NOW = datetime(2024, 5, 3, 14, 30, tzinfo=UTC)


def alert(
    condition: AlertCondition = C.PRICE_ABOVE,
    threshold: float | None = 180.0,
    frequency: AlertFrequency = F.EVERY_TIME,
    **changes: object,
) -> Alert:
    base = Alert(
        id="a1",
        user_id="u1",
        symbol="AAPL",
        condition=condition,
        threshold=threshold,
        frequency=frequency,
        created_at=NOW - timedelta(days=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def price(
    value: float, *, change_percent: float | None = None, symbol: str = "AAPL"
) -> PriceUpdated:
    return PriceUpdated(symbol=symbol, price=value, timestamp=NOW, change_percent=change_percent)


def create(**fields: object) -> Alert:
    values: dict[str, object] = {
        "id": "a1",
        "user_id": "u1",
        "symbol": "aapl",
        "condition": C.PRICE_ABOVE,
        "threshold": 180.0,
        "frequency": F.ONCE,
        "expires_at": None,
        "now": NOW,
    }
    values.update(fields)
    return new_alert(**values)  # type: ignore[arg-type]


def problems(**fields: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        create(**fields)
    return [(p.field, p.code) for p in caught.value.problems]


# ---------------------------------------------------------------- validation


def test_a_new_alert_is_active_with_an_upper_case_symbol_created_now() -> None:
    created = create(symbol=" aapl ")
    assert (created.symbol, created.active, created.created_at) == ("AAPL", True, NOW)
    assert (created.last_triggered_at, created.last_value) == (None, None)


@pytest.mark.parametrize("condition", [c for c in C if c is not C.RECOMMENDATION_CHANGED])
def test_every_condition_but_recommendation_changed_needs_a_threshold(
    condition: AlertCondition,
) -> None:
    assert problems(condition=condition, threshold=None) == [("threshold", "REQUIRED")]


def test_recommendation_changed_ignores_a_threshold() -> None:
    assert create(condition=C.RECOMMENDATION_CHANGED, threshold=5.0).threshold is None


@pytest.mark.parametrize("threshold", [math.nan, math.inf, -math.inf])
def test_a_threshold_that_is_not_finite_is_refused(threshold: float) -> None:
    assert problems(threshold=threshold) == [("threshold", "NOT_FINITE")]


@pytest.mark.parametrize(
    ("condition", "threshold"),
    [
        (C.PRICE_ABOVE, 0.0),
        (C.PRICE_BELOW, -5.0),
        (C.CROSSES_ABOVE, 1e12),
        (C.PERCENT_CHANGE_BELOW, -100.0),
        (C.PERCENT_CHANGE_ABOVE, 10_000.5),
        (C.RSI_ABOVE, 100.5),
        (C.RSI_BELOW, -1.0),
    ],
)
def test_a_threshold_outside_its_conditions_range_is_refused(
    condition: AlertCondition, threshold: float
) -> None:
    assert problems(condition=condition, threshold=threshold) == [("threshold", "OUT_OF_RANGE")]


@pytest.mark.parametrize(
    ("condition", "threshold"),
    [
        (C.PRICE_ABOVE, 1e9),
        (C.PERCENT_CHANGE_BELOW, -99.9),
        (C.PERCENT_CHANGE_ABOVE, 0.0),
        (C.RSI_ABOVE, 100.0),
        (C.RSI_BELOW, 0.0),
    ],
)
def test_thresholds_at_the_ends_of_their_range_are_accepted(
    condition: AlertCondition, threshold: float
) -> None:
    assert create(condition=condition, threshold=threshold).threshold == threshold


@pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1)])
def test_an_expiry_not_in_the_future_is_refused(expires_at: datetime) -> None:
    assert problems(expires_at=expires_at) == [("expiresAt", "IN_PAST")]


def test_a_malformed_symbol_is_refused_naming_symbol() -> None:
    assert problems(symbol="not a symbol") == [("symbol", "INVALID")]


def test_every_bad_field_is_named_at_once() -> None:
    assert problems(symbol="1BAD", threshold=None, expires_at=NOW) == [
        ("symbol", "INVALID"),
        ("threshold", "REQUIRED"),
        ("expiresAt", "IN_PAST"),
    ]


# ---------------------------------------------------------------- price conditions


@pytest.mark.parametrize(
    ("condition", "value", "fires"),
    [
        (C.PRICE_ABOVE, 180.01, True),
        (C.PRICE_ABOVE, 180.0, False),
        (C.PRICE_ABOVE, 179.99, False),
        (C.PRICE_BELOW, 179.99, True),
        (C.PRICE_BELOW, 180.0, False),
        (C.PRICE_BELOW, 180.01, False),
    ],
)
def test_price_conditions_are_strict_comparisons(
    condition: AlertCondition, value: float, fires: bool
) -> None:
    assert evaluate_price(alert(condition), price(value), now=NOW).fired is fires


def test_price_above_fires_on_the_first_update_when_already_true() -> None:
    outcome = evaluate_price(alert(C.PRICE_ABOVE), price(200.0), now=NOW)
    assert (outcome.fired, outcome.value) == (True, 200.0)


def test_an_alert_of_another_symbol_is_left_unchanged() -> None:
    original = alert(C.PRICE_ABOVE)
    outcome = evaluate_price(original, price(200.0, symbol="MSFT"), now=NOW)
    assert (outcome.fired, outcome.alert) == (False, original)


def test_a_price_that_is_not_finite_never_fires() -> None:
    assert evaluate_price(alert(C.PRICE_ABOVE), price(math.inf), now=NOW).fired is False


# ---------------------------------------------------------------- crossings


def test_the_first_observation_of_a_crossing_alert_only_records_the_price() -> None:
    outcome = evaluate_price(alert(C.CROSSES_ABOVE), price(190.0), now=NOW)
    assert outcome.fired is False
    assert outcome.alert.last_value == 190.0


@pytest.mark.parametrize("previous", [170.0, 180.0])
def test_crosses_above_fires_from_at_or_below_to_above(previous: float) -> None:
    outcome = evaluate_price(alert(C.CROSSES_ABOVE, last_value=previous), price(180.42), now=NOW)
    assert outcome.fired is True
    assert outcome.alert.last_value == 180.42


def test_crosses_above_does_not_fire_at_the_threshold() -> None:
    outcome = evaluate_price(alert(C.CROSSES_ABOVE, last_value=170.0), price(180.0), now=NOW)
    assert outcome.fired is False


def test_crosses_above_needs_a_fresh_cross_when_already_above() -> None:
    outcome = evaluate_price(alert(C.CROSSES_ABOVE, last_value=185.0), price(190.0), now=NOW)
    assert outcome.fired is False


def test_crosses_below_fires_from_at_or_above_to_below() -> None:
    at = evaluate_price(alert(C.CROSSES_BELOW, last_value=180.0), price(179.5), now=NOW)
    above = evaluate_price(alert(C.CROSSES_BELOW, last_value=185.0), price(179.5), now=NOW)
    assert (at.fired, above.fired) == (True, True)


def test_crosses_below_does_not_fire_while_staying_below() -> None:
    outcome = evaluate_price(alert(C.CROSSES_BELOW, last_value=175.0), price(170.0), now=NOW)
    assert outcome.fired is False


def test_crossing_state_changes_only_when_the_side_changes() -> None:
    original = alert(C.CROSSES_ABOVE, last_value=170.0)
    same_side = evaluate_price(original, price(175.0), now=NOW)
    assert same_side.alert == original


def test_falling_back_rearms_a_crossing_alert() -> None:
    first = evaluate_price(alert(C.CROSSES_ABOVE, last_value=170.0), price(181.0), now=NOW)
    back = evaluate_price(first.alert, price(179.0), now=NOW + timedelta(minutes=1))
    again = evaluate_price(back.alert, price(181.0), now=NOW + timedelta(minutes=2))
    assert (first.fired, back.fired, again.fired) == (True, False, True)


# ---------------------------------------------------------------- percent change and RSI


@pytest.mark.parametrize(
    ("condition", "threshold", "change", "fires"),
    [
        (C.PERCENT_CHANGE_ABOVE, 5.0, 5.2, True),
        (C.PERCENT_CHANGE_ABOVE, 5.0, 5.0, False),
        (C.PERCENT_CHANGE_ABOVE, -3.0, -1.0, True),
        (C.PERCENT_CHANGE_BELOW, -3.0, -3.5, True),
        (C.PERCENT_CHANGE_BELOW, -3.0, -3.0, False),
        (C.PERCENT_CHANGE_BELOW, -3.0, 1.0, False),
    ],
)
def test_percent_change_compares_the_change_since_the_previous_close(
    condition: AlertCondition, threshold: float, change: float, fires: bool
) -> None:
    outcome = evaluate_price(
        alert(condition, threshold), price(100.0, change_percent=change), now=NOW
    )
    assert (outcome.fired, outcome.value) == (fires, change)


def test_percent_change_without_a_change_never_fires() -> None:
    outcome = evaluate_price(alert(C.PERCENT_CHANGE_ABOVE, 1.0), price(100.0), now=NOW)
    assert (outcome.fired, outcome.value) == (False, None)


@pytest.mark.parametrize(
    ("condition", "rsi", "fires"),
    [
        (C.RSI_ABOVE, 70.1, True),
        (C.RSI_ABOVE, 70.0, False),
        (C.RSI_BELOW, 69.9, True),
        (C.RSI_BELOW, 70.0, False),
    ],
)
def test_rsi_conditions_compare_the_given_rsi(
    condition: AlertCondition, rsi: float, fires: bool
) -> None:
    outcome = evaluate_price(alert(condition, 70.0), price(100.0), now=NOW, rsi=rsi)
    assert (outcome.fired, outcome.value) == (fires, rsi)


def test_rsi_alerts_never_fire_without_an_rsi() -> None:
    assert evaluate_price(alert(C.RSI_BELOW, 30.0), price(100.0), now=NOW).fired is False


def test_recommendation_alerts_never_fire_on_prices() -> None:
    outcome = evaluate_price(alert(C.RECOMMENDATION_CHANGED, None), price(100.0), now=NOW)
    assert outcome.fired is False


# ---------------------------------------------------------------- recommendation changes


def recommendation(old: str | None, new: str, original: Alert | None = None) -> bool:
    target = original or alert(C.RECOMMENDATION_CHANGED, None)
    return evaluate_recommendation(target, symbol="AAPL", old=old, new=new, now=NOW).fired


def test_recommendation_changed_fires_on_a_change() -> None:
    assert recommendation("HOLD", "BUY") is True


def test_recommendation_changed_ignores_the_same_recommendation_again() -> None:
    assert recommendation("BUY", "BUY") is False


def test_recommendation_changed_ignores_the_first_recommendation() -> None:
    assert recommendation(None, "BUY") is False


def test_price_alerts_never_fire_on_recommendation_changes() -> None:
    assert recommendation("HOLD", "BUY", alert(C.PRICE_ABOVE)) is False


def test_recommendation_changed_once_deactivates_after_firing() -> None:
    target = alert(C.RECOMMENDATION_CHANGED, None, F.ONCE)
    outcome = evaluate_recommendation(target, symbol="AAPL", old="HOLD", new="SELL", now=NOW)
    assert (outcome.fired, outcome.alert.active, outcome.alert.last_triggered_at) == (
        True,
        False,
        NOW,
    )


# ---------------------------------------------------------------- frequencies


def test_once_deactivates_after_firing() -> None:
    outcome = evaluate_price(alert(frequency=F.ONCE), price(200.0), now=NOW)
    assert (outcome.fired, outcome.alert.active, outcome.alert.last_triggered_at) == (
        True,
        False,
        NOW,
    )


def test_an_inactive_alert_never_fires() -> None:
    original = alert(frequency=F.ONCE, active=False)
    outcome = evaluate_price(original, price(200.0), now=NOW)
    assert (outcome.fired, outcome.alert) == (False, original)


def test_every_time_fires_on_each_update_and_stays_active() -> None:
    first = evaluate_price(alert(frequency=F.EVERY_TIME), price(200.0), now=NOW)
    later = NOW + timedelta(seconds=5)
    second = evaluate_price(first.alert, price(201.0), now=later)
    assert (first.fired, second.fired) == (True, True)
    assert (second.alert.active, second.alert.last_triggered_at) == (True, later)


def test_once_per_day_fires_at_most_once_per_utc_day() -> None:
    first = evaluate_price(alert(frequency=F.ONCE_PER_DAY), price(200.0), now=NOW)
    end_of_day = NOW.replace(hour=23, minute=59, second=59)
    same_day = evaluate_price(first.alert, price(201.0), now=end_of_day)
    next_day = evaluate_price(first.alert, price(201.0), now=end_of_day + timedelta(seconds=1))
    assert (first.fired, same_day.fired, next_day.fired) == (True, False, True)
    assert first.alert.active is True
    assert same_day.alert == first.alert


def test_once_per_day_counts_days_in_utc_not_local_time() -> None:
    # 23:30 in UTC-05:00 is 04:30 UTC the next day.
    local = datetime.fromisoformat("2024-05-03T23:30:00-05:00")
    fired = alert(frequency=F.ONCE_PER_DAY, last_triggered_at=NOW)
    assert evaluate_price(fired, price(200.0), now=local).fired is True


def test_a_cross_held_back_by_once_per_day_still_moves_the_state() -> None:
    fired_today = alert(
        C.CROSSES_ABOVE, frequency=F.ONCE_PER_DAY, last_value=170.0, last_triggered_at=NOW
    )
    outcome = evaluate_price(fired_today, price(181.0), now=NOW + timedelta(hours=1))
    assert outcome.fired is False
    assert outcome.alert.last_value == 181.0


# ---------------------------------------------------------------- expiry


def test_an_alert_is_expired_from_its_expiry_on() -> None:
    expiring = alert(expires_at=NOW)
    assert is_expired(expiring, NOW) is True
    assert is_expired(expiring, NOW - timedelta(microseconds=1)) is False
    assert is_expired(alert(), NOW) is False


def test_an_expired_alert_never_fires_and_comes_back_deactivated() -> None:
    outcome = evaluate_price(alert(expires_at=NOW), price(200.0), now=NOW)
    assert (outcome.fired, outcome.alert.active) == (False, False)


def test_an_expired_recommendation_alert_never_fires() -> None:
    expired = alert(C.RECOMMENDATION_CHANGED, None, expires_at=NOW - timedelta(hours=1))
    outcome = evaluate_recommendation(expired, symbol="AAPL", old="BUY", new="SELL", now=NOW)
    assert (outcome.fired, outcome.alert.active) == (False, False)


def test_an_alert_before_its_expiry_fires() -> None:
    outcome = evaluate_price(alert(expires_at=NOW + timedelta(seconds=1)), price(200.0), now=NOW)
    assert outcome.fired is True


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("condition", "threshold", "value", "message"),
    [
        (C.CROSSES_ABOVE, 180.0, 180.42, "AAPL crossed above 180.00 at 180.42"),
        (C.PRICE_BELOW, 181.0, 180.42, "AAPL is below 181.00 at 180.42"),
        (
            C.PERCENT_CHANGE_ABOVE,
            5.0,
            5.2,
            "AAPL changed +5.20% since the previous close, above +5.00% (price 180.42)",
        ),
        (C.RSI_BELOW, 30.0, 27.44, "AAPL RSI is 27.4, below 30.0 (price 180.42)"),
    ],
)
def test_a_firing_is_described_with_its_numbers(
    condition: AlertCondition, threshold: float, value: float, message: str
) -> None:
    described = describe_firing(alert(condition, threshold), price=180.42, value=value)
    assert described == message
