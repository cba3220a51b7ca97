"""The input of signals: closes (and volumes when known) of one symbol, oldest first.

Two ways in: stored bars (`from_bars`, with volume) and the API's list of {date, price}
points (`from_points`, closes only, validated as user input).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import numpy.typing as npt

from domain.errors import InvalidInput, StockQLError
from domain.market import BarSeries

FloatArray = npt.NDArray[np.float64]

MAX_POINTS = 10_000


class InsufficientData(StockQLError):
    """Too few points for what was asked; `required` and `available` count data points."""

    code = "INSUFFICIENT_DATA"

    def __init__(self, *, required: int, available: int) -> None:
        super().__init__(f"At least {required} data points are needed, {available} were given")
        self.required = required
        self.available = available


@dataclass(frozen=True, slots=True, eq=False)
class PriceSeries:
    """Closes of one symbol, oldest first, with strictly increasing aware timestamps.

    `close` holds finite prices > 0 (listing currency). `volume` (shares) is None when the
    source has no volume, e.g. the API's {date, price} points. Raises ValueError on data
    that breaks these invariants: that is a bug or bad stored data, not user input.
    """

    timestamps: tuple[datetime, ...]
    close: FloatArray
    volume: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.close.ndim != 1 or len(self.close) != len(self.timestamps):
            raise ValueError(f"{len(self.timestamps)} timestamps for {self.close.shape} closes")
        if not (np.isfinite(self.close).all() and (self.close > 0).all()):
            raise ValueError("closes must be finite and above 0")
        if self.volume is not None and (
            self.volume.shape != self.close.shape or not np.isfinite(self.volume).all()
        ):
            raise ValueError("volumes must be finite, one per close")
        if any(ts.tzinfo is None for ts in self.timestamps):
            raise ValueError("timestamps must be timezone-aware")
        if any(a >= b for a, b in zip(self.timestamps, self.timestamps[1:], strict=False)):
            raise ValueError("timestamps must be strictly increasing")

    @classmethod
    def from_bars(cls, bars: BarSeries) -> PriceSeries:
        return cls(
            timestamps=tuple(bars.timestamps),
            close=np.asarray(bars.close, dtype=np.float64),
            volume=np.asarray(bars.volume, dtype=np.float64),
        )

    @classmethod
    def from_points(
        cls, points: Sequence[tuple[date, float]], *, max_points: int = MAX_POINTS
    ) -> PriceSeries:
        """Closes from (date, price) pairs in any order, sorted inside; no volume.

        A `date` becomes midnight UTC (the daily bar convention); a `datetime` must be
        timezone-aware. Raises InvalidInput naming the bad item's field as the API spells
        it (`data.3.price`, `data.5.date`), or `data` when there are more than `max_points`.
        """
        if len(points) > max_points:
            raise InvalidInput(f"At most {max_points} data points are allowed", field="data")
        seen: dict[datetime, int] = {}
        for index, (day, price) in enumerate(points):
            stamp = _timestamp(day, index)
            if stamp in seen:
                raise InvalidInput(
                    f"Date {day.isoformat()} repeats item {seen[stamp]}", field=f"data.{index}.date"
                )
            seen[stamp] = index
            # bool is an int subclass: True is not a price.
            if isinstance(price, bool) or not isinstance(price, int | float):
                raise InvalidInput("price must be a number", field=f"data.{index}.price")
            if not math.isfinite(price) or price <= 0:
                raise InvalidInput(
                    "price must be a finite number above 0", field=f"data.{index}.price"
                )
        order = sorted(range(len(points)), key=lambda i: _timestamp(points[i][0], i))
        return cls(
            timestamps=tuple(_timestamp(points[i][0], i) for i in order),
            close=np.array([float(points[i][1]) for i in order], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.timestamps)

    def head(self, stop: int) -> PriceSeries:
        """The first `stop` points: the series as it was known at index stop - 1."""
        return PriceSeries(
            timestamps=self.timestamps[:stop],
            close=self.close[:stop],
            volume=None if self.volume is None else self.volume[:stop],
        )

    def without_volume(self) -> PriceSeries:
        return PriceSeries(timestamps=self.timestamps, close=self.close)


def _timestamp(day: date, index: int) -> datetime:
    if isinstance(day, datetime):
        if day.tzinfo is None:
            raise InvalidInput(
                "date-times must carry a timezone offset", field=f"data.{index}.date"
            )
        return day.astimezone(UTC)
    return datetime.combine(day, time.min, tzinfo=UTC)
