from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.errors import RateLimited, UpstreamUnavailable
from domain.providers import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    seconds_to_next_utc_day,
    unavailable_error,
)

NOTHING = "nothing is stored for IBM"


def test_a_used_up_day_is_unavailable_until_the_next_utc_midnight() -> None:
    limit = ProviderRateLimited("daily", daily=True, retry_after_seconds=22_380.2)

    error = unavailable_error(limit, nothing_stored=NOTHING)

    assert type(error) is UpstreamUnavailable
    assert error.retry_after_seconds == 22_381
    assert error.message == (
        "The market data provider's daily call limit is used up and nothing is stored for "
        "IBM; it resets at 00:00 UTC"
    )


def test_a_used_up_day_without_a_wait_waits_for_the_next_utc_midnight() -> None:
    error = unavailable_error(ProviderRateLimited("daily", daily=True), nothing_stored=NOTHING)

    assert isinstance(error, UpstreamUnavailable)
    expected = seconds_to_next_utc_day(datetime.now(UTC))
    assert error.retry_after_seconds is not None
    assert abs(error.retry_after_seconds - expected) <= 2


@pytest.mark.parametrize(("wait", "seconds"), [(40.0, 40), (0.2, 1), (None, 60)])
def test_a_shorter_limit_is_rate_limited_for_its_wait_in_whole_seconds(
    wait: float | None, seconds: int
) -> None:
    limit = ProviderRateLimited("per minute", daily=False, retry_after_seconds=wait)

    error = unavailable_error(limit, nothing_stored=NOTHING)

    assert type(error) is RateLimited
    assert error.retry_after_seconds == seconds
    assert error.message.endswith(f"nothing is stored for IBM; try again in {seconds} s")


@pytest.mark.parametrize("failure", [ProviderUnavailable("down"), ProviderRejected("premium only")])
def test_other_failures_are_unavailable_with_no_wait_nor_upstream_text(
    failure: ProviderError,
) -> None:
    error = unavailable_error(failure, nothing_stored=NOTHING)

    assert type(error) is UpstreamUnavailable
    assert error.retry_after_seconds is None
    assert str(failure) not in error.message


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2024, 3, 8, 17, 47, tzinfo=UTC), 22_380.0),
        (datetime(2024, 3, 8, 23, 59, 59, 500_000, tzinfo=UTC), 0.5),
        (datetime(2024, 3, 9, 0, 0, tzinfo=UTC), 86_400.0),
        # 19:00 in New York (winter time) is already the next day in UTC.
        (datetime(2024, 3, 8, 19, 0, tzinfo=timezone(timedelta(hours=-5))), 86_400.0),
    ],
)
def test_seconds_to_the_next_utc_day(now: datetime, seconds: float) -> None:
    assert seconds_to_next_utc_day(now) == pytest.approx(seconds)
