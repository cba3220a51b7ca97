"""A local fake of the Alpha Vantage HTTP API, for integration and API tests.

Usage::

    async with FakeAlphaVantage() as fake:      # or the `fake_alphavantage` fixture
        fake.base_url                           # "http://127.0.0.1:PORT/query"
        fake.api_key                            # FAKE_API_KEY unless given
        fake.enqueue(json=BURST_LIMIT)          # the next call gets this body
        fake.enqueue(status=503, times=2)       # the two after that get HTTP 503
        fake.enqueue(delay=5)                   # the one after that answers normally, late
        fake.misbehave()                        # every later call: the next of GARBAGE in
        fake.behave()                           # turn (queued answers first), until this
        ...
        len(fake.calls)                         # upstream calls so far; each is a dict of
        fake.calls[-1]["function"]              # the query parameters (apikey included)
        fake.call_times[-1]                     # when it came (time.time())

Answers follow the real formats for TIME_SERIES_DAILY, TIME_SERIES_INTRADAY, GLOBAL_QUOTE and
SYMBOL_SEARCH, with deterministic generated prices for any valid-looking symbol: `days` daily
bars (compact gives the latest 100) ending on `today` or the weekday before, and intraday bars
from 04:00 to 20:00 New York time for the last INTRADAY_DAYS of them, written in `time_zone`
(named in the Meta Data, as Alpha Vantage does; it sends "US/Eastern"). Symbols starting with
"ZZZ" are unknown. A missing or wrong apikey gets the real invalid-key body.

Limits, as a real key has them: `calls_per_day` (a free key: 25) answers the daily-limit body
once that many calls were answered since 00:00 UTC; `calls_per_minute` (a premium key: 75 and
up) answers the premium per-minute body once that many were answered in the clock minute.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import time as clock
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

FAKE_API_KEY = "fake-key-0123456789"
UNKNOWN_PREFIX = "ZZZ"
INTRADAY_DAYS = 5
COMPACT_BARS = 100

DOCS = "https://www.alphavantage.co/documentation/"
INVALID_API_KEY = {
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API "
    "key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}
BURST_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Please consider spreading out your free "
    "API requests more sparingly (1 request per second). You may subscribe to any of the premium "
    "plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests "
    "per day), remove this rate limit, and instantly unlock all premium endpoints"
}
NOTE_LIMIT = {
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per "
    "minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you "
    "would like to target a higher API call frequency."
}
PREMIUM_ENDPOINT = {
    "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
    "unlock all premium endpoints"
}
PREMIUM_FEATURE = {
    "Information": "Thank you for using Alpha Vantage! The **outputsize=full** parameter value "
    "is a premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of the "
    "premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium "
    "features"
}
# A premium key over its plan's calls per minute.
PREMIUM_MINUTE_LIMIT = {
    "Information": "Thank you for using Alpha Vantage! Please contact premium@alphavantage.co "
    "if you are targeting a higher API call volume."
}
# A premium key sending too many calls within a second.
PREMIUM_BURST_LIMIT = {
    "Information": "Burst pattern detected. Please consider spreading out your API requests "
    "more evenly across a 1-minute window and query no more than 20 requests per second. "
    "Please contact support@alphavantage.co if you are targeting a higher API request volume."
}
EMPTY_QUOTE: dict[str, dict[str, str]] = {"Global Quote": {}}
EXCHANGE_ZONE = ZoneInfo("America/New_York")
_MINUTE, _DAY = 60, 86_400

_SYMBOL = re.compile(r"[A-Z][A-Z0-9.\-]{0,9}", re.IGNORECASE)
_SESSION_MINUTES = 16 * 60  # 04:00 to 20:00 New York, extended hours included as AV does
_INTRADAY = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
# (symbol, name, type, region) for SYMBOL_SEARCH; _MARKETS adds the region's hours and currency.
_LISTINGS = (
    ("IBM", "International Business Machines Corp", "Equity", "United States"),
    ("AAPL", "Apple Inc", "Equity", "United States"),
    ("MSFT", "Microsoft Corporation", "Equity", "United States"),
    ("GOOG", "Alphabet Inc - Class C", "Equity", "United States"),
    ("AMZN", "Amazon.com Inc", "Equity", "United States"),
    ("TSLA", "Tesla Inc", "Equity", "United States"),
    ("TSCO", "Tractor Supply Co", "Equity", "United States"),
    ("TSCO.LON", "Tesco PLC", "Equity", "United Kingdom"),
    ("SPY", "SPDR S&P 500 ETF Trust", "ETF", "United States"),
)
_MARKETS = {
    "United States": ("09:30", "16:00", "UTC-04", "USD"),
    "United Kingdom": ("08:00", "16:30", "UTC+01", "GBX"),
}


def daily_limit(api_key: str = FAKE_API_KEY) -> dict[str, str]:
    """The real daily-limit body, which quotes the caller's api key."""
    return {
        "Information": f"We have detected your API key as {api_key} and our standard API rate "
        "limit is 25 requests per day. Please subscribe to any of the premium plans at "
        "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
    }


def invalid_call(function: str) -> dict[str, str]:
    """The real answer to a call with a bad parameter, e.g. an unknown symbol."""
    return {
        "Error Message": f"Invalid API call. Please retry or visit the documentation ({DOCS}) "
        f"for {function}."
    }


@dataclass(frozen=True, slots=True)
class Answer:
    """A forced answer: `json` (encoded), else `text` (as text/html), else the normal answer
    when `status` is 200 and a short error text otherwise; `delay` seconds pass first."""

    json: Any = None
    text: str | None = None
    status: int = 200
    delay: float = 0.0


# Every way a misbehaving Alpha Vantage (or what stands between us and it) has answered:
# its rate-limit bodies, bodies that are not JSON or cut short, a proxy's error page, nothing,
# and JSON of the wrong shape for any function.
GARBAGE: tuple[Answer, ...] = (
    Answer(json=NOTE_LIMIT),
    Answer(json=BURST_LIMIT),
    Answer(json=daily_limit()),
    Answer(text="Service temporarily unavailable, please try again later"),
    Answer(text='{"Meta Data": {"1. Information": "Daily Prices", "2. Symbol": "IB'),
    Answer(text="<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
    Answer(text="<html><body>502</body></html>", status=502),
    Answer(text=""),
    Answer(text="null"),
    Answer(json=[]),
    Answer(json={}),
    Answer(json={"Time Series (Daily)": "none today"}),
    Answer(json={"Time Series (Daily)": {"yesterday": {"1. open": "a lot"}}}),
    Answer(json={"Time Series (Daily)": {"2024-01-02": {"4. close": "-1", "5. volume": "x"}}}),
    Answer(json={"Global Quote": []}),
    Answer(json={"Global Quote": {"01. symbol": "IBM", "05. price": "NaN"}}),
    Answer(json={"Global Quote": {"05. price": "1e400", "07. latest trading day": "soon"}}),
    Answer(json={"bestMatches": "none"}),
    Answer(json={"bestMatches": [{"1. symbol": None}]}),
)


class FakeAlphaVantage:
    """An aiohttp server on 127.0.0.1 and a free port, answering like Alpha Vantage."""

    def __init__(
        self,
        *,
        api_key: str = FAKE_API_KEY,
        today: date | None = None,
        days: int = 120,
        time_zone: str = "US/Eastern",
        calls_per_day: int | None = None,
        calls_per_minute: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.calls: list[dict[str, str]] = []
        self.call_times: list[float] = []
        self.time_zone = time_zone
        self.calls_per_day = calls_per_day
        self.calls_per_minute = calls_per_minute
        self._answered: list[float] = []  # when each call was answered normally
        self._last_day = _last_weekday(today or datetime.now(UTC).date())
        self._days = days
        self._queue: deque[Answer] = deque()
        self._garbage: Iterator[Answer] | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeAlphaVantage is not started")
        return f"http://127.0.0.1:{self._port}/query"

    def enqueue(
        self,
        *,
        json: Any = None,
        text: str | None = None,
        status: int = 200,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Force the answer to the next `times` calls, after any answers already queued.

        The body is `json` (encoded), else `text` (sent as text/html), else the normal answer
        when `status` is 200 and a short error text otherwise. `delay` seconds pass first.
        """
        for _ in range(times):
            self._queue.append(Answer(json, text, status, delay))

    def misbehave(self, answers: Sequence[Answer] = GARBAGE) -> None:
        """Answer every call from now on (after any queued answers) with the next of
        `answers`, in turn and over again, until `behave()`."""
        self._garbage = itertools.cycle(answers)

    def behave(self) -> None:
        """Answer normally again (queued answers still come first)."""
        self._garbage = None

    def reset(self) -> None:
        """Forget recorded calls (and what the limits counted), queued answers and
        misbehaviour."""
        self.calls.clear()
        self.call_times.clear()
        self._answered.clear()
        self._queue.clear()
        self._garbage = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/query", self._handle)
        # Cancel handlers whose client hung up, so a delayed answer never holds up stop().
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._port = None

    async def __aenter__(self) -> FakeAlphaVantage:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        self.calls.append(params)
        self.call_times.append(clock.time())
        forced = self._queue.popleft() if self._queue else None
        if forced is None and self._garbage is not None:
            forced = next(self._garbage)
        if forced is not None:
            await asyncio.sleep(forced.delay)
            if forced.json is not None:
                return web.json_response(forced.json, status=forced.status)
            if forced.text is not None:
                return web.Response(
                    text=forced.text, status=forced.status, content_type="text/html"
                )
            if forced.status != 200:
                return web.Response(text=f"HTTP {forced.status}", status=forced.status)
        limited = self._limit_answer(self.call_times[-1])
        if limited is not None:
            return web.json_response(limited)
        self._answered.append(self.call_times[-1])
        return web.json_response(self._answer(params))

    def _limit_answer(self, now: float) -> dict[str, str] | None:
        """The body of the limit this call is over, or None."""
        if self.calls_per_day is not None:
            today = sum(1 for when in self._answered if when // _DAY == now // _DAY)
            if today >= self.calls_per_day:
                return daily_limit(self.api_key)
        if self.calls_per_minute is not None:
            minute = sum(1 for when in self._answered if when // _MINUTE == now // _MINUTE)
            if minute >= self.calls_per_minute:
                return PREMIUM_MINUTE_LIMIT
        return None

    def _answer(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("apikey") != self.api_key:
            return INVALID_API_KEY
        function = params.get("function", "")
        if function == "SYMBOL_SEARCH":
            return _search(params.get("keywords", ""))
        symbol = params.get("symbol", "").upper()
        known = bool(_SYMBOL.fullmatch(symbol)) and not symbol.startswith(UNKNOWN_PREFIX)
        full = params.get("outputsize") == "full"
        if function == "TIME_SERIES_DAILY" and known:
            return self._daily(symbol, full=full)
        if function == "TIME_SERIES_INTRADAY" and known and params.get("interval") in _INTRADAY:
            return self._intraday(symbol, params["interval"], full=full)
        if function == "GLOBAL_QUOTE":
            return self._quote(symbol) if known else EMPTY_QUOTE
        if function in ("TIME_SERIES_DAILY", "TIME_SERIES_INTRADAY"):
            return invalid_call(function)
        return {"Error Message": f"This API function ({function}) does not exist."}

    def _daily_rows(self, symbol: str) -> list[tuple[date, dict[str, str]]]:
        """(day, row) oldest first; the walk is seeded by the symbol alone."""
        rng = random.Random(zlib.crc32(symbol.encode()))
        close = rng.uniform(20, 500)
        rows = []
        for day in _weekdays_until(self._last_day, self._days):
            open_ = close * math.exp(rng.gauss(0, 0.005))
            close = open_ * math.exp(rng.gauss(0.0003, 0.015))
            rows.append((day, _ohlcv(rng, open_, close, rng.randint(1_000_000, 9_000_000))))
        return rows

    def _daily(self, symbol: str, *, full: bool) -> dict[str, Any]:
        rows = self._daily_rows(symbol)
        if not full:
            rows = rows[-COMPACT_BARS:]
        return {
            "Meta Data": {
                "1. Information": "Daily Prices (open, high, low, close) and Volumes",
                "2. Symbol": symbol,
                "3. Last Refreshed": self._last_day.isoformat(),
                "4. Output Size": "Full size" if full else "Compact",
                "5. Time Zone": self.time_zone,
            },
            "Time Series (Daily)": {day.isoformat(): row for day, row in reversed(rows)},
        }

    def _intraday(self, symbol: str, interval: str, *, full: bool) -> dict[str, Any]:
        minutes = _INTRADAY[interval]
        zone = ZoneInfo(self.time_zone)
        series: dict[datetime, dict[str, str]] = {}
        for day, daily in self._daily_rows(symbol)[-INTRADAY_DAYS:]:
            prices, volumes = _minutes(symbol, day, daily)
            # The session runs on New York wall time; the keys are wall times of `zone`.
            start = datetime.combine(day, time(4, 0), EXCHANGE_ZONE)
            for first in range(0, _SESSION_MINUTES, minutes):
                span = prices[first : first + minutes + 1]
                opened = (start + timedelta(minutes=first)).astimezone(zone)
                series[opened] = _row(
                    span[0], max(span), min(span), span[-1], sum(volumes[first : first + minutes])
                )
        newest_first = sorted(series, reverse=True)
        if not full:
            newest_first = newest_first[:COMPACT_BARS]
        keys = [opened.strftime("%Y-%m-%d %H:%M:%S") for opened in newest_first]
        return {
            "Meta Data": {
                "1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
                "2. Symbol": symbol,
                "3. Last Refreshed": keys[0],
                "4. Interval": interval,
                "5. Output Size": "Full size" if full else "Compact",
                "6. Time Zone": self.time_zone,
            },
            f"Time Series ({interval})": {
                key: series[opened] for key, opened in zip(keys, newest_first, strict=True)
            },
        }

    def _quote(self, symbol: str) -> dict[str, Any]:
        (_, previous), (day, last) = self._daily_rows(symbol)[-2:]
        price, previous_close = float(last["4. close"]), float(previous["4. close"])
        change = price - previous_close
        return {
            "Global Quote": {
                "01. symbol": symbol,
                "02. open": last["1. open"],
                "03. high": last["2. high"],
                "04. low": last["3. low"],
                "05. price": last["4. close"],
                "06. volume": last["5. volume"],
                "07. latest trading day": day.isoformat(),
                "08. previous close": previous["4. close"],
                "09. change": f"{change:.4f}",
                "10. change percent": f"{change / previous_close * 100:.4f}%",
            }
        }


def _search(keywords: str) -> dict[str, Any]:
    wanted = keywords.strip().upper()
    matches = []
    for symbol, name, kind, region in _LISTINGS:
        if not wanted or not (wanted in symbol or wanted in name.upper()):
            continue
        score = len(wanted) / max(len(symbol), len(wanted)) if symbol.startswith(wanted) else 0.2
        market_open, market_close, zone, currency = _MARKETS[region]
        matches.append(
            {
                "1. symbol": symbol,
                "2. name": name,
                "3. type": kind,
                "4. region": region,
                "5. marketOpen": market_open,
                "6. marketClose": market_close,
                "7. timezone": zone,
                "8. currency": currency,
                "9. matchScore": f"{score:.4f}",
            }
        )
    matches.sort(key=lambda match: -float(match["9. matchScore"]))
    return {"bestMatches": matches}


def _ohlcv(rng: random.Random, open_: float, close: float, volume: int) -> dict[str, str]:
    high = max(open_, close) * (1 + abs(rng.gauss(0, 0.004)))
    low = min(open_, close) * (1 - abs(rng.gauss(0, 0.004)))
    return _row(open_, high, low, close, volume)


def _row(open_: float, high: float, low: float, close: float, volume: int) -> dict[str, str]:
    return {
        "1. open": f"{open_:.4f}",
        "2. high": f"{high:.4f}",
        "3. low": f"{low:.4f}",
        "4. close": f"{close:.4f}",
        "5. volume": str(volume),
    }


def _minutes(symbol: str, day: date, daily: dict[str, str]) -> tuple[list[float], list[int]]:
    """One price per minute from 04:00 to 20:00 (both ends) and one volume per minute.

    A random walk pinned to the daily open and close and kept within the daily low and high,
    so that intraday bars of every interval agree with each other and with the daily bar.
    """
    rng = random.Random(zlib.crc32(f"{symbol}:{day}".encode()))
    open_, high, low, close = (
        float(daily[k]) for k in ("1. open", "2. high", "3. low", "4. close")
    )
    walk = [0.0]
    for _ in range(_SESSION_MINUTES):
        walk.append(walk[-1] + rng.gauss(0, 0.0008))
    drift = math.log(close / open_)
    prices = []
    for minute, position in enumerate(walk):
        share = minute / _SESSION_MINUTES
        price = open_ * math.exp(position - share * walk[-1] + share * drift)
        prices.append(min(high, max(low, price)))
    volumes = [rng.randint(1_000, 50_000) for _ in range(_SESSION_MINUTES)]
    return prices, volumes


def _last_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _weekdays_until(last: date, count: int) -> list[date]:
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]
