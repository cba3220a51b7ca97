"""Supplied {date, price} points laid over a symbol's stored daily history.

A caller of `predict` may send a few points (today's price, a correction) for a symbol whose
history is stored: the points override the stored closes of the same dates and extend the
history with the others, so a prediction needs no more than what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from domain.signals.prices import PriceSeries
from domain.signals.recommendations import Reason


@dataclass(frozen=True, slots=True)
class Overlay:
    """The stored series with the supplied points laid over it.

    `replaced` counts the supplied points whose UTC date had a stored close, `appended` those
    after the last stored date, `inserted` the others (before the first stored date or in a
    gap, e.g. a holiday). `series` keeps the stored volumes only when no point was added
    (points carry no volume); otherwise it has none.
    """

    series: PriceSeries
    replaced: int
    appended: int
    inserted: int
    stored_points: int
    stored_first: date
    stored_last: date

    def reason(self, symbol: str, source: str) -> Reason:
        """What the prediction was made from, for its reasons (`source`: where the stored
        bars came from, e.g. alphavantage or simulator)."""
        counts = [
            f"{count} {what}"
            for count, what in (
                (self.replaced, "replaced the stored close of their date"),
                (self.appended, "appended after the last stored date"),
                (self.inserted, "inserted before or between stored dates"),
            )
            if count
        ]
        supplied = self.replaced + self.appended + self.inserted
        return Reason(
            "SUPPLIED_DATA_MERGED",
            f"{_points(supplied)} supplied over {self.stored_points:,} stored daily closes of "
            f"{symbol} ({self.stored_first.isoformat()} .. {self.stored_last.isoformat()}, "
            f"source {source}): {'; '.join(counts)}",
        )


def supplied_only_reason(symbol: str, points: int) -> Reason:
    """The reason of a prediction made from supplied points alone."""
    return Reason(
        "SUPPLIED_DATA_ONLY",
        f"No daily history of {symbol} is stored: predicted from the {_points(points)} "
        "supplied alone",
    )


def _points(count: int) -> str:
    return f"{count:,} point" if count == 1 else f"{count:,} points"


def overlay(stored: PriceSeries, supplied: PriceSeries) -> Overlay:
    """Lay `supplied` over `stored` by UTC date: a supplied close wins over the stored one of
    its date (keeping the stored timestamp); the other supplied points are added in time
    order. Of two supplied points on one UTC date (date-times), the later one counts.
    `stored` must not be empty (raises ValueError)."""
    if len(stored) == 0:
        raise ValueError("nothing stored to lay the points over")
    position = {stamp.date(): index for index, stamp in enumerate(stored.timestamps)}
    close = stored.close.copy()
    replaced_days: set[date] = set()
    added: dict[date, tuple[datetime, float]] = {}
    for stamp, price in zip(supplied.timestamps, supplied.close, strict=True):
        day = stamp.date()
        index = position.get(day)
        if index is None:
            added[day] = (stamp, float(price))
        else:
            close[index] = price
            replaced_days.add(day)
    first, last = stored.timestamps[0].date(), stored.timestamps[-1].date()
    if added:
        points = sorted([*zip(stored.timestamps, close.tolist(), strict=True), *added.values()])
        series = PriceSeries(
            timestamps=tuple(stamp for stamp, _ in points),
            close=np.array([price for _, price in points], dtype=np.float64),
        )
    else:
        series = PriceSeries(timestamps=stored.timestamps, close=close, volume=stored.volume)
    appended = sum(1 for day in added if day > last)
    return Overlay(
        series=series,
        replaced=len(replaced_days),
        appended=appended,
        inserted=len(added) - appended,
        stored_points=len(stored),
        stored_first=first,
        stored_last=last,
    )
