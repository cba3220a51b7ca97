"""The market simulator: the default data provider, with no network and no key.

Bars and quotes are a deterministic function of (seed, symbol, clock): two simulators with the
same seed agree everywhere, and a bar never changes once its time has passed. History runs
from 2000-01-03 on trading days of the NYSE calendar; the last INTRADAY_SESSIONS sessions also
have minute bars, and quotes move every second, also after hours (see _intraday_paths).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.adapters._intraday_paths import (
    OvernightGap,
    SessionDay,
    overnight_price,
    session_minutes,
    session_path,
)
from app.adapters._price_paths import (
    BLOCK,
    EPOCH,
    DailyPath,
    SymbolProfile,
    daily_path,
    profile_for,
)
from app.adapters.symbol_directory import Listing, SymbolDirectory
from domain import trading_calendar as calendar
from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import UnknownSymbol

# Without `since`, daily history reaches this far back: ten years and a little more.
DAILY_LOOKBACK = timedelta(days=3660)
# Finished sessions that have minute bars, besides the one running.
INTRADAY_SESSIONS = 30

_MINUTES_PER_BAR = {
    Interval.ONE_MINUTE: 1,
    Interval.FIVE_MINUTES: 5,
    Interval.FIFTEEN_MINUTES: 15,
    Interval.THIRTY_MINUTES: 30,
    Interval.ONE_HOUR: 60,
}
_INTERVALS = frozenset({Interval.DAILY, *_MINUTES_PER_BAR})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Moment:
    """Where a clock reading falls: the last session that has opened, and how far into it."""

    now: datetime  # whole seconds, UTC
    index: int  # trading day number of that session
    day: date
    elapsed: int  # seconds since its open

    @property
    def in_session(self) -> bool:
        return self.elapsed < calendar.SESSION_SECONDS


class MarketSimulator:
    """A MarketDataProvider of simulated prices for the directory's symbols and `extra_symbols`
    (other symbols raise UnknownSymbol). `clock` returns an aware datetime."""

    def __init__(
        self,
        *,
        seed: int = 42,
        clock: Callable[[], datetime] = _utc_now,
        directory: SymbolDirectory | None = None,
        extra_symbols: Iterable[str] = (),
    ) -> None:
        if directory is None:
            directory = SymbolDirectory()
        extras = {symbol.strip().upper() for symbol in extra_symbols} - {
            listing.symbol for listing in directory.listings
        }
        if extras:
            listed = [Listing(symbol, symbol) for symbol in sorted(extras)]
            directory = SymbolDirectory([*directory.listings, *listed])
        self._seed = seed
        self._clock = clock
        self._directory = directory
        self._days = calendar.TradingDayIndex(EPOCH)
        self._profiles: dict[str, SymbolProfile] = {}

    @property
    def name(self) -> str:
        return "simulator"

    @property
    def intervals(self) -> frozenset[Interval]:
        """Daily and every intraday width; weekly bars are derived from daily ones elsewhere."""
        return _INTERVALS

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        """Bars oldest first, up to the clock (the running session's bars are partial).

        Daily bars go back to `since` (default: DAILY_LOOKBACK before the clock), at most to
        2000-01-03. Intraday bars cover at most the last INTRADAY_SESSIONS finished sessions
        and the running one, from `since` when that is later. Raises UnknownSymbol, and
        ValueError for WEEKLY.
        """
        listing = self._listing(symbol)
        if interval not in _INTERVALS:
            raise ValueError(f"the simulator serves no {interval.value} bars")
        moment = self._moment(self._clock())
        if interval is Interval.DAILY:
            start = since if since is not None else moment.now - DAILY_LOOKBACK
            return await asyncio.to_thread(self._daily_bars, listing, moment, start)
        width = _MINUTES_PER_BAR[interval]
        return await asyncio.to_thread(self._intraday_bars, listing, width, moment, since)

    async def fetch_quote(self, symbol: str) -> Quote:
        """The price at the clock's second: inside a session the running session's path,
        outside it a quieter after-hours path from the last close to the next open.
        open/high/low/volume are the last session's (so far); change is against the close
        of the session before it. Raises UnknownSymbol."""
        listing = self._listing(symbol)
        return self._quote(listing, self._moment(self._clock()))

    async def search(self, query: str) -> list[SymbolMatch]:
        return self._directory.search(query)

    def _listing(self, symbol: str) -> Listing:
        listing = self._directory.listing(symbol)
        if listing is None:
            raise UnknownSymbol(f"the simulator does not trade {symbol!r}")
        return listing

    def _moment(self, now: datetime) -> _Moment:
        now = now.astimezone(UTC).replace(microsecond=0)
        index = self._days.index(calendar.new_york_date(now))
        day = self._days.day(index)
        if now < calendar.session_open(day):
            index -= 1
            day = self._days.day(index)
        elapsed = int((now - calendar.session_open(day)).total_seconds())
        return _Moment(now=now, index=index, day=day, elapsed=elapsed)

    def _path(self, listing: Listing, through: int) -> DailyPath:
        """The daily path covering trading days 0..through."""
        profile = self._profiles.get(listing.symbol)
        if profile is None:
            profile = profile_for(
                self._seed,
                listing.symbol,
                typical_price=listing.typical_price,
                fund=listing.kind == "ETF",
            )
            self._profiles[listing.symbol] = profile
        return daily_path(self._seed, listing.symbol, profile, through // BLOCK + 1)

    def _session(self, listing: Listing, path: DailyPath, index: int) -> SessionDay:
        return SessionDay(
            seed=self._seed,
            symbol=listing.symbol,
            day=self._days.day(index),
            open=float(path.open[index]),
            high=float(path.high[index]),
            low=float(path.low[index]),
            close=float(path.close[index]),
            volume=float(path.volume[index]),
            volatility=float(path.volatility[index]),
        )

    def _daily_bars(self, listing: Listing, moment: _Moment, since: datetime) -> list[Bar]:
        since_day = since.astimezone(UTC).date()
        if since > datetime.combine(since_day, time.min, tzinfo=UTC):
            since_day += timedelta(days=1)
        first = self._days.first_on_or_after(since_day)
        last = moment.index
        if first > last:
            return []
        path = self._path(listing, last)
        rows = slice(first, last + 1)
        bars = [
            Bar(datetime.combine(day, time.min, tzinfo=UTC), o, h, lo, c, v)
            for day, o, h, lo, c, v in zip(
                self._days.days(first, last + 1),
                path.open[rows].tolist(),
                path.high[rows].tolist(),
                path.low[rows].tolist(),
                path.close[rows].tolist(),
                path.volume[rows].tolist(),
                strict=True,
            )
        ]
        if moment.in_session:
            seen = session_path(self._session(listing, path, last)).minutes(moment.elapsed)
            bars[-1] = Bar(
                bars[-1].timestamp,
                bars[-1].open,
                float(seen.high.max()),
                float(seen.low.min()),
                float(seen.close[-1]),
                float(seen.volume.sum()),
            )
        return bars

    def _intraday_bars(
        self, listing: Listing, width: int, moment: _Moment, since: datetime | None
    ) -> list[Bar]:
        last = moment.index
        first = max(last - INTRADAY_SESSIONS + (0 if moment.in_session else 1), 0)
        path = self._path(listing, last)
        step = timedelta(minutes=width)
        bars: list[Bar] = []
        for index in range(first, last + 1):
            day = self._days.day(index)
            if since is not None and calendar.session_close(day) < since:
                continue
            session = self._session(listing, path, index)
            if index == last and moment.in_session:
                minutes = session_path(session).minutes(moment.elapsed)
            else:
                minutes = session_minutes(session)
            columns = minutes.aggregate(width)
            opened = calendar.session_open(day)
            rows = zip(
                columns.open.tolist(),
                columns.high.tolist(),
                columns.low.tolist(),
                columns.close.tolist(),
                columns.volume.tolist(),
                strict=True,
            )
            bars.extend(Bar(opened + n * step, *row) for n, row in enumerate(rows))
        if since is not None:
            bars = [bar for bar in bars if bar.timestamp >= since]
        return bars

    def _quote(self, listing: Listing, moment: _Moment) -> Quote:
        index = moment.index
        path = self._path(listing, index + 1)
        if moment.in_session:
            session = session_path(self._session(listing, path, index))
            seen = session.prices[: moment.elapsed + 1]
            price, high, low = float(seen[-1]), float(seen.max()), float(seen.min())
            volume = session.volume_at(moment.elapsed)
        else:
            high, low = float(path.high[index]), float(path.low[index])
            volume = float(path.volume[index])
            closed = calendar.session_close(moment.day)
            reopens = calendar.session_open(self._days.day(index + 1))
            gap = OvernightGap(
                seed=self._seed,
                symbol=listing.symbol,
                day=moment.day,
                start=float(path.close[index]),
                end=float(path.open[index + 1]),
                minutes=int((reopens - closed).total_seconds()) // 60,
                volatility=float(path.volatility[index]),
            )
            price = overnight_price(gap, int((moment.now - closed).total_seconds()))
        previous_close = float(path.close[index - 1]) if index > 0 else None
        change = change_percent = None
        if previous_close is not None:
            change = price - previous_close
            change_percent = 100.0 * change / previous_close
        return Quote(
            symbol=listing.symbol,
            price=price,
            timestamp=moment.now,
            source=self.name,
            open=float(path.open[index]),
            high=high,
            low=low,
            previous_close=previous_close,
            change=change,
            change_percent=change_percent,
            volume=volume,
        )
