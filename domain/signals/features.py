"""Model features at time t, computed from closes (and volumes) up to t only.

Close-only features (the default set, so that a model can predict from the API's
{date, price} points, which carry no volume):

    close_sma50, close_sma200   close / SMA(n) - 1                      fraction
    sma50_sma200                SMA(50) / SMA(200) - 1                  fraction
    rsi14                       RSI(14), Wilder                         0-100 points
    macd_price                  MACD(12/26/9) line / close              fraction
    macd_histogram_price        MACD histogram / close                  fraction
    bollinger_b                 (close - lower) / (upper - lower), 20/2 fraction of the band
    return_1d .. return_20d     close[t] / close[t-k] - 1               fraction
    volatility_20d, _60d        std of daily returns over n days        fraction per day

Volume features (only with `FeatureSet(volume=True)`; a series without volume is refused):

    volume_zscore_20d           (volume - mean20) / std20, 0 when std20 is 0
    volume_ratio_20d            volume / mean20 - 1, 0 when mean20 is 0

Ratios rather than price levels keep the features comparable across symbols and decades, so
one model can be pooled over symbols. Every line is causal; rows before
`required_history() - 1` are all NaN even where a short-window feature would exist, so a row
is either complete or absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from domain.errors import InvalidInput
from domain.signals._rolling import return_volatility, rolling_mean, rolling_std
from domain.signals.prices import FloatArray, InsufficientData, PriceSeries
from domain.signals.technicals import SMA_SLOW, Technicals

RETURN_DAYS = (1, 5, 10, 20)
VOLATILITY_DAYS = (20, 60)
VOLUME_WINDOW = 20


class Feature(NamedTuple):
    name: str
    label: str
    unit: Literal["fraction", "points"]


CLOSE_FEATURES: tuple[Feature, ...] = (
    Feature("close_sma50", "Close vs SMA(50)", "fraction"),
    Feature("close_sma200", "Close vs SMA(200)", "fraction"),
    Feature("sma50_sma200", "SMA(50) vs SMA(200)", "fraction"),
    Feature("rsi14", "RSI(14)", "points"),
    Feature("macd_price", "MACD / price", "fraction"),
    Feature("macd_histogram_price", "MACD histogram / price", "fraction"),
    Feature("bollinger_b", "Bollinger %b", "fraction"),
    *(Feature(f"return_{d}d", f"{d}-day return", "fraction") for d in RETURN_DAYS),
    *(Feature(f"volatility_{d}d", f"{d}-day volatility", "fraction") for d in VOLATILITY_DAYS),
)
VOLUME_FEATURES: tuple[Feature, ...] = (
    Feature("volume_zscore_20d", "Volume z-score (20 days)", "points"),
    Feature("volume_ratio_20d", "Volume vs 20-day mean", "fraction"),
)


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """Which features a model uses: the close-only set, plus volume when `volume`."""

    volume: bool = False

    @property
    def features(self) -> tuple[Feature, ...]:
        return CLOSE_FEATURES + VOLUME_FEATURES if self.volume else CLOSE_FEATURES

    @property
    def names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def required_history(self) -> int:
        """Data points needed for one complete row: SMA(200) needs 200 closes, and every other
        feature fewer (60-day volatility 61)."""
        return max(SMA_SLOW, max(VOLATILITY_DAYS) + 1, max(RETURN_DAYS) + 1, VOLUME_WINDOW)

    def compute(self, series: PriceSeries, technicals: Technicals | None = None) -> FloatArray:
        """A (len(series), len(names)) matrix; row t uses points 0..t only, NaN rows before
        index required_history() - 1. `technicals` may be passed when already computed over
        the same series. Raises InvalidInput when volume features are asked of a series
        without volume."""
        close = series.close
        lines = technicals or Technicals.of(close)
        columns = [
            _ratio(close, lines.sma50),
            _ratio(close, lines.sma200),
            _ratio(lines.sma50, lines.sma200),
            lines.rsi14,
            lines.macd / close,
            lines.macd_histogram / close,
            _band_position(close, lines.bollinger_lower, lines.bollinger_upper),
            *(_past_return(close, days) for days in RETURN_DAYS),
            *(return_volatility(close, days) for days in VOLATILITY_DAYS),
        ]
        if self.volume:
            if series.volume is None:
                raise InvalidInput(
                    "This model needs volumes, and the data has closes only", field="data"
                )
            columns += _volume_columns(series.volume)
        matrix = np.column_stack(columns) if len(close) else np.empty((0, len(columns)))
        matrix[: self.required_history() - 1] = np.nan
        return matrix

    def last_row(self, series: PriceSeries, technicals: Technicals | None = None) -> FloatArray:
        """The features of the last point. Raises InsufficientData when the series is shorter
        than required_history()."""
        required = self.required_history()
        if len(series) < required:
            raise InsufficientData(required=required, available=len(series))
        # Only the last `required` points matter for every window except the EMAs inside
        # MACD and RSI, whose seeds fade but never vanish: use the whole series.
        row: FloatArray = self.compute(series, technicals)[-1]
        return row


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return numerator / denominator - 1.0


def _past_return(close: FloatArray, days: int) -> FloatArray:
    out = np.full(len(close), np.nan)
    out[days:] = close[days:] / close[:-days] - 1.0
    return out


def _band_position(close: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    width = upper - lower
    # Flat prices give a zero-width band: the close sits in its middle.
    with np.errstate(divide="ignore", invalid="ignore"):
        position = np.where(width > 0, (close - lower) / width, 0.5)
    position[np.isnan(width)] = np.nan
    return position


def _volume_columns(volume: FloatArray) -> list[FloatArray]:
    mean = rolling_mean(volume, VOLUME_WINDOW)
    std = rolling_std(volume, VOLUME_WINDOW)
    with np.errstate(divide="ignore", invalid="ignore"):
        zscore = np.where(std > 0, (volume - mean) / std, 0.0)
        ratio = np.where(mean > 0, volume / mean - 1.0, 0.0)
    zscore[np.isnan(std)] = np.nan
    ratio[np.isnan(mean)] = np.nan
    return [zscore, ratio]
