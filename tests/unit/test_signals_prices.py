from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest

from domain.errors import InvalidInput
from domain.market import BarSeries
from domain.signals.prices import InsufficientData, PriceSeries
from tests.support.fakes import daily_bars
from tests.support.price_walks import START


def test_points_in_any_order_are_sorted_by_date() -> None:
    series = PriceSeries.from_points([(date(2024, 1, 3), 12.0), (date(2024, 1, 2), 11.0)])

    assert series.timestamps == (
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    )
    assert series.close.tolist() == [11.0, 12.0]
    assert series.volume is None


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf, True])
def test_a_bad_price_names_its_item(price: float) -> None:
    points = [(date(2024, 1, 2), 10.0), (date(2024, 1, 3), price)]

    with pytest.raises(InvalidInput) as caught:
        PriceSeries.from_points(points)

    assert caught.value.field == "data.1.price"


def test_a_repeated_date_names_the_repeat() -> None:
    points = [(date(2024, 1, 2), 10.0), (date(2024, 1, 3), 11.0), (date(2024, 1, 2), 12.0)]

    with pytest.raises(InvalidInput) as caught:
        PriceSeries.from_points(points)

    assert caught.value.field == "data.2.date"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        PriceSeries.from_points([(datetime(2024, 1, 2, 16), 10.0)])  # noqa: DTZ001

    assert caught.value.field == "data.0.date"


def test_aware_datetimes_become_utc() -> None:
    eastern = timezone(timedelta(hours=-5))

    series = PriceSeries.from_points([(datetime(2024, 1, 2, 16, tzinfo=eastern), 10.0)])

    assert series.timestamps == (datetime(2024, 1, 2, 21, tzinfo=UTC),)


def test_more_points_than_allowed_are_refused() -> None:
    points = [(date(2000, 1, 1) + timedelta(days=i), 10.0) for i in range(11)]

    with pytest.raises(InvalidInput) as caught:
        PriceSeries.from_points(points, max_points=10)

    assert caught.value.field == "data"


def test_bars_keep_their_volume() -> None:
    bars = BarSeries.from_bars(daily_bars(3, start=START))

    series = PriceSeries.from_bars(bars)

    assert series.close.tolist() == [100.0, 101.0, 102.0]
    assert series.volume is not None
    assert series.volume.tolist() == [1000.0, 1001.0, 1002.0]


def test_unsorted_timestamps_are_a_bug() -> None:
    later, earlier = datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)

    with pytest.raises(ValueError, match="increasing"):
        PriceSeries(timestamps=(later, earlier), close=np.array([1.0, 2.0]))


def test_insufficient_data_says_what_is_required_and_available() -> None:
    error = InsufficientData(required=200, available=12)

    assert (error.required, error.available, error.code) == (200, 12, "INSUFFICIENT_DATA")
    assert error.message == "At least 200 data points are needed, 12 were given"
