"""Supplied points laid over a stored daily history: same dates replaced, others added."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from domain.signals.overlay import overlay, supplied_only_reason
from domain.signals.prices import PriceSeries
from tests.support.price_walks import random_walk, weekdays

STORED = random_walk(10, seed=3)  # weekdays 2010-01-04 .. 2010-01-15, with volumes
LAST = STORED.timestamps[-1].date()


def points(*items: tuple[date, float]) -> PriceSeries:
    return PriceSeries.from_points(list(items))


def test_a_point_on_a_stored_date_replaces_that_close_and_keeps_the_volumes() -> None:
    laid = overlay(STORED, points((date(2010, 1, 6), 77.0)))
    assert laid.series.timestamps == STORED.timestamps
    assert laid.series.close[2] == 77.0
    assert np.array_equal(np.delete(laid.series.close, 2), np.delete(STORED.close, 2))
    assert laid.series.volume is not None
    assert STORED.volume is not None
    assert np.array_equal(laid.series.volume, STORED.volume)
    assert (laid.replaced, laid.appended, laid.inserted) == (1, 0, 0)


def test_later_points_are_appended_in_date_order_without_volumes() -> None:
    laid = overlay(STORED, points((date(2010, 1, 19), 61.0), (date(2010, 1, 18), 60.0)))
    assert len(laid.series) == len(STORED) + 2
    assert laid.series.timestamps[-2:] == (
        datetime(2010, 1, 18, tzinfo=UTC),
        datetime(2010, 1, 19, tzinfo=UTC),
    )
    assert laid.series.close[-2:].tolist() == [60.0, 61.0]
    assert laid.series.volume is None
    assert (laid.replaced, laid.appended, laid.inserted) == (0, 2, 0)


def test_points_before_the_history_or_in_its_gaps_are_inserted() -> None:
    saturday, before = date(2010, 1, 9), date(2009, 12, 31)
    laid = overlay(STORED, points((saturday, 55.0), (before, 50.0), (LAST, 58.0)))
    stamps = laid.series.timestamps
    assert stamps[0] == datetime(2009, 12, 31, tzinfo=UTC)
    assert datetime(2010, 1, 9, tzinfo=UTC) in stamps
    assert laid.series.close[-1] == 58.0
    assert (laid.replaced, laid.appended, laid.inserted) == (1, 0, 2)


def test_a_date_time_point_replaces_the_stored_close_of_its_utc_date() -> None:
    evening = datetime(2010, 1, 7, 21, 0, tzinfo=UTC)
    laid = overlay(STORED, PriceSeries.from_points([(evening, 70.0)]))
    assert laid.series.timestamps == STORED.timestamps
    assert laid.series.close[3] == 70.0


def test_the_reason_names_the_counts_the_span_and_the_source() -> None:
    laid = overlay(STORED, points((LAST, 58.0), (date(2010, 1, 18), 59.0)))
    reason = laid.reason("AAPL", "simulator")
    assert reason.code == "SUPPLIED_DATA_MERGED"
    assert reason.description == (
        "2 points supplied over 10 stored daily closes of AAPL (2010-01-04 .. 2010-01-15, "
        "source simulator): 1 replaced the stored close of their date; 1 appended after the "
        "last stored date"
    )


def test_the_reason_of_points_alone_says_nothing_is_stored() -> None:
    reason = supplied_only_reason("ACME", 60)
    assert reason.code == "SUPPLIED_DATA_ONLY"
    assert "No daily history of ACME is stored" in reason.description
    assert "60 points" in reason.description


def test_an_empty_stored_series_is_refused() -> None:
    empty = PriceSeries(timestamps=(), close=np.array([], dtype=np.float64))
    with pytest.raises(ValueError, match="nothing stored"):
        overlay(empty, points((LAST, 1.0)))


def test_the_stored_series_is_left_as_it_was() -> None:
    before = STORED.close.copy()
    overlay(STORED, points((STORED.timestamps[0].date(), 1.0)))
    assert np.array_equal(STORED.close, before)
    assert weekdays(10) == STORED.timestamps
