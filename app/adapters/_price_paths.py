"""Deterministic random price paths for the market simulator (numpy, vectorised).

Every draw comes from a numpy Generator seeded by a blake2b digest of (seed, symbol, purpose,
key), so a path is the same on every machine and in every process (Python's hash() is salted
per process), and never depends on what was generated before it.

Three layers, each pinned to the one above so that nothing ever contradicts itself:

- daily: one open/high/low/close/volume per trading day, counted from EPOCH;
- session: one price per second of a regular session, a bridge from the day's open to its
  close stretched to touch exactly the day's high and low, so minute bars agree with the
  daily bar;
- overnight: one price per second between a close and the next open, a quieter bridge, so
  live quotes move at any hour and arrive exactly at the next open.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from domain.trading_calendar import SESSION_SECONDS, trading_days

Floats = npt.NDArray[np.float64]

# Day 0 of every daily path: history is available from here on.
EPOCH = date(2000, 1, 3)
# Each symbol's trend passes through its typical price on this day.
REFERENCE_DAY = date(2025, 1, 2)
# Trading days drawn from one Generator: fixed, so a day's values never depend on the clock.
BLOCK = 256
SESSION_MINUTES = SESSION_SECONDS // 60

_TRADING_DAYS_PER_YEAR = 252
_TURBULENT_VOLATILITY = 2.5  # times the calm volatility
_P_CALM_TO_TURBULENT = 1 / 60  # calm spells last ~60 trading days
_P_TURBULENT_TO_CALM = 1 / 15  # turbulent spells ~15
# Pull of the log price toward its trend line: a one-year half-life keeps decades of random
# walk in a plausible band around the trend (one standard deviation is 20-40 %).
_REVERSION = math.log(2) / _TRADING_DAYS_PER_YEAR
_GAP_SHARE = 0.3  # overnight gap std, as a share of the day's volatility
_RANGE_SHARE = 0.5  # high/low excursion beyond open and close, same unit


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """The parameters of one symbol's simulated market, fixed per (seed, symbol)."""

    typical_price: float  # trend level on REFERENCE_DAY, listing currency
    annual_drift: float  # trend, log-return per year
    calm_volatility: float  # std of daily log returns in the calm regime
    base_volume: float  # shares on a calm, flat day


def generator(seed: int, symbol: str, *key: object) -> np.random.Generator:
    """A Generator that depends only on its arguments, identical on every machine."""
    text = ":".join(str(part) for part in (seed, symbol, *key))
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def profile_for(
    seed: int, symbol: str, *, typical_price: float | None, fund: bool
) -> SymbolProfile:
    """Draw a symbol's profile; funds are calmer and trade more. Without a typical price one
    between 10 and 400 is drawn."""
    rng = generator(seed, symbol, "profile")
    price = typical_price or float(np.exp(rng.uniform(math.log(10), math.log(400))))
    annual_vol = rng.uniform(0.08, 0.15) if fund else rng.uniform(0.15, 0.32)
    drift = rng.uniform(0.0, 0.09) if fund else rng.uniform(-0.02, 0.14)
    fewest, most = (1e7, 8e7) if fund else (3e6, 4e7)
    volume = np.exp(rng.uniform(math.log(fewest), math.log(most)))
    return SymbolProfile(
        typical_price=float(price),
        annual_drift=float(drift),
        calm_volatility=float(annual_vol / math.sqrt(_TRADING_DAYS_PER_YEAR)),
        base_volume=float(volume),
    )


@dataclass(frozen=True, slots=True)
class DailyPath:
    """Daily values for trading days 0..len-1 (day 0 is EPOCH), including days still in the
    future of any clock: callers cut them off. `volatility` is the day's log-return std."""

    open: Floats
    high: Floats
    low: Floats
    close: Floats
    volume: Floats
    volatility: Floats
    turbulent: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.close)


@lru_cache(maxsize=64)
def daily_path(seed: int, symbol: str, profile: SymbolProfile, blocks: int) -> DailyPath:
    """`blocks * BLOCK` trading days: a geometric random walk around the trend line with a
    two-state (calm/turbulent) Markov chain switching the volatility."""
    days = blocks * BLOCK
    regime_rng = generator(seed, symbol, "regime-start")
    turbulent_share = _P_CALM_TO_TURBULENT / (_P_CALM_TO_TURBULENT + _P_TURBULENT_TO_CALM)
    state = int(regime_rng.random() < turbulent_share)
    states: list[npt.NDArray[np.int64]] = []
    draws: list[Floats] = []
    for block in range(blocks):
        rng = generator(seed, symbol, "daily", block)
        states.append(_regimes(rng, state))
        draws.append(rng.standard_normal((5, BLOCK)))
        state = int(states[-1][-1])
    shocks, gaps, ups, downs, noise = np.concatenate(draws, axis=1)
    turbulent = np.concatenate(states).astype(bool)
    volatility = profile.calm_volatility * np.where(turbulent, _TURBULENT_VOLATILITY, 1.0)
    deviations = _mean_reverting(volatility * shocks, 0.0)

    step = profile.annual_drift / _TRADING_DAYS_PER_YEAR
    index = np.arange(-1, days, dtype=np.float64) - _reference_index()
    trend = math.log(profile.typical_price) + step * index
    log_close = trend[1:] + deviations
    previous = np.concatenate(([trend[0]], log_close[:-1]))
    log_open = previous + _GAP_SHARE * volatility * gaps

    # Prices are not rounded to a tick: live quotes must move every second, also for
    # low-priced symbols in quiet hours.
    close = np.exp(log_close)
    open_ = np.exp(log_open)
    high = np.maximum(open_, close) * np.exp(_RANGE_SHARE * volatility * np.abs(ups))
    low = np.minimum(open_, close) * np.exp(-_RANGE_SHARE * volatility * np.abs(downs))

    # Volume grows with the size of the move and in turbulent spells.
    move = np.abs(log_close - previous) / profile.calm_volatility
    volume = profile.base_volume * (1 + 0.6 * move) * np.where(turbulent, 1.5, 1.0)
    volume = np.maximum(np.round(volume * np.exp(0.3 * noise)), 100.0)
    return DailyPath(open_, high, low, close, volume, volatility, turbulent)


def _regimes(rng: np.random.Generator, state: int) -> npt.NDArray[np.int64]:
    """BLOCK regime states continuing a chain whose last state was `state`."""
    leave = np.array([_P_CALM_TO_TURBULENT, _P_TURBULENT_TO_CALM])
    # Alternating spells; BLOCK + 1 of them always cover the block (each after the first
    # lasts at least a day). Geometric spells are memoryless, so the carried-over spell may
    # end at once: hence the minus one.
    order = (state + np.arange(BLOCK + 1)) % 2
    lengths = rng.geometric(leave[order])
    lengths[0] -= 1
    return np.repeat(order, lengths)[:BLOCK]


def _mean_reverting(shocks: Floats, start: float) -> Floats:
    """d[t] = phi * d[t-1] + shocks[t] with d[-1] = start, vectorised per BLOCK (where the
    powers of phi stay well inside float range)."""
    phi = 1.0 - _REVERSION
    out = np.empty_like(shocks)
    powers = phi ** np.arange(1, BLOCK + 1, dtype=np.float64)
    previous = start
    for first in range(0, len(shocks), BLOCK):
        chunk = shocks[first : first + BLOCK]
        scale = powers[: len(chunk)]
        values = scale * (previous + np.cumsum(chunk / scale))
        out[first : first + BLOCK] = values
        previous = float(values[-1])
    return out


@lru_cache(maxsize=1)
def _reference_index() -> int:
    return len(trading_days(EPOCH, REFERENCE_DAY)) - 1
