"""Alpaca's market data REST API (https://docs.alpaca.markets/reference/stockbars) as a
MarketDataProvider (STOCKQL_PROVIDER=alpaca): daily and intraday bars, and the latest price.

Requests carry the APCA-API-KEY-ID and APCA-API-SECRET-KEY headers (never the URL, so no
message here can hold them). Bars: GET /v2/stocks/{symbol}/bars?timeframe=1Day|1Min|...
&start&limit&feed&adjustment&page_token, answered {"bars":[{"t","o","h","l","c","v","n",
"vw"}] or null,"symbol","next_page_token"}; pages are followed up to MAX_PAGES. Daily bars
are stamped at midnight New York time, turned here into midnight UTC of that trading date
(the domain's convention). The latest price comes from the snapshot (GET
/v2/stocks/{symbol}/snapshot: latestTrade, dailyBar, prevDailyBar). Free plans get the IEX
feed and 200 calls a minute; a 429 says when the minute resets (X-RateLimit-Reset, Unix
seconds). A 5xx, timeout or connection failure is retried with backoff; 401 and 403 are a
rejected key. Alpaca has no symbol search in its data API: search is the local directory of
listings, which costs nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from app.metrics import Metrics
from domain import trading_calendar
from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import (
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)
from domain.symbol_search import SymbolLookup

SOURCE = "alpaca"
DEFAULT_URL = "https://data.alpaca.markets"
TIMEFRAMES = {
    Interval.DAILY: "1Day",
    Interval.ONE_MINUTE: "1Min",
    Interval.FIVE_MINUTES: "5Min",
    Interval.FIFTEEN_MINUTES: "15Min",
    Interval.THIRTY_MINUTES: "30Min",
    Interval.ONE_HOUR: "1Hour",
}
PAGE_LIMIT = 10_000
MAX_PAGES = 20
# Asked for when the caller names no start: Alpaca's default is the start of today.
DEFAULT_LOOKBACK = {True: timedelta(days=30), False: timedelta(days=3660)}
_BACKOFF_SECONDS = 0.5


class _Transient(ProviderUnavailable):
    """A 5xx, timeout or connection failure: a retry may cure it."""


class AlpacaDataProvider:
    """The aiohttp session is owned by the caller."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        key_id: str,
        secret_key: str,
        names: SymbolLookup,
        base_url: str = DEFAULT_URL,
        feed: str = "iex",
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_seconds: float = _BACKOFF_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self._session = session
        self._headers = {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret_key}
        self._names = names
        self._base_url = base_url.rstrip("/")
        self._feed = feed
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._clock = clock
        self._metrics = metrics

    @property
    def name(self) -> str:
        return SOURCE

    @property
    def intervals(self) -> frozenset[Interval]:
        return frozenset(TIMEFRAMES)

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        if interval not in TIMEFRAMES:
            raise ValueError(f"Alpaca serves no {interval.value} bars here")
        start = since or self._clock() - DEFAULT_LOOKBACK[interval.is_intraday]
        params = {
            "timeframe": TIMEFRAMES[interval],
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "limit": str(PAGE_LIMIT),
            "adjustment": "raw",
            "feed": self._feed,
            "sort": "asc",
        }
        bars: list[Bar] = []
        for _ in range(MAX_PAGES):
            page = await self._get(f"/v2/stocks/{symbol}/bars", params, "bars")
            try:
                bars.extend(_bar(item, interval) for item in page.get("bars") or ())
            except (KeyError, TypeError, ValueError) as error:
                raise ProviderUnavailable(f"bars of {symbol}: unreadable bar ({error})") from None
            token = page.get("next_page_token")
            if not token:
                break
            params["page_token"] = str(token)
        return bars

    async def fetch_quote(self, symbol: str) -> Quote:
        snapshot = await self._get(
            f"/v2/stocks/{symbol}/snapshot", {"feed": self._feed}, "snapshot"
        )
        try:
            return _quote(symbol, snapshot)
        except (KeyError, TypeError, ValueError) as error:
            raise ProviderUnavailable(f"snapshot of {symbol}: unreadable ({error})") from None

    async def search(self, query: str) -> list[SymbolMatch]:
        return self._names.search(query) if query.strip() else []

    async def _get(self, path: str, params: dict[str, str], function: str) -> dict[str, Any]:
        for attempt in range(self._max_retries + 1):
            try:
                return await self._get_once(path, params, function)
            except _Transient:
                if attempt == self._max_retries:
                    raise
                ceiling = self._backoff * 2**attempt
                await asyncio.sleep(random.uniform(ceiling / 2, ceiling))
        raise AssertionError("unreachable")

    async def _get_once(self, path: str, params: dict[str, str], function: str) -> dict[str, Any]:
        if self._metrics is not None:
            self._metrics.provider_requests.labels(SOURCE, function).inc()
        try:
            async with self._session.get(
                self._base_url + path, params=params, headers=self._headers, timeout=self._timeout
            ) as response:
                status, headers, body = response.status, response.headers, await response.read()
        except TimeoutError:
            raise _Transient(f"{function}: no answer within {self._timeout.total} s") from None
        except aiohttp.ClientError as error:
            raise _Transient(f"{function}: {type(error).__name__}") from None
        if status == 200:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise ProviderUnavailable(f"{function}: a body that is not JSON") from None
            if not isinstance(data, dict):
                raise ProviderUnavailable(f"{function}: a body that is not an object")
            return data
        message = _message(body)
        if status in (401, 403):
            raise ProviderRejected(f"{function}: HTTP {status} {message}: check the Alpaca keys")
        if status == 404 or (status == 422 and "symbol" in message.lower()):
            raise UnknownSymbol(f"{function}: HTTP {status} {message}")
        if status == 429:
            raise ProviderRateLimited(
                f"{function}: HTTP 429 {message}",
                daily=False,
                retry_after_seconds=self._until_reset(headers.get("X-RateLimit-Reset")),
                window_seconds=60,
            )
        if status >= 500:
            raise _Transient(f"{function}: HTTP {status}")
        raise ProviderUnavailable(f"{function}: HTTP {status} {message}")

    def _until_reset(self, reset: str | None) -> float | None:
        try:
            at = datetime.fromtimestamp(float(reset), UTC) if reset else None
        except (ValueError, OverflowError):
            return None
        return None if at is None else max(1.0, (at - self._clock()).total_seconds())


def _message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else ""


def _bar(item: dict[str, Any], interval: Interval) -> Bar:
    at = datetime.fromisoformat(str(item["t"]))
    if interval is Interval.DAILY:
        day = trading_calendar.new_york_date(at)
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    prices = (float(item["o"]), float(item["h"]), float(item["l"]), float(item["c"]))
    return Bar(at.astimezone(UTC), *prices, float(item["v"]))


def _quote(symbol: str, snapshot: dict[str, Any]) -> Quote:
    trade = snapshot["latestTrade"]
    daily = snapshot.get("dailyBar") or {}
    previous = (snapshot.get("prevDailyBar") or {}).get("c")
    price = float(trade["p"])
    previous_close = float(previous) if previous is not None else None
    change = None if previous_close is None else price - previous_close
    return Quote(
        symbol=symbol,
        price=price,
        timestamp=datetime.fromisoformat(str(trade["t"])).astimezone(UTC),
        source=SOURCE,
        open=_number(daily.get("o")),
        high=_number(daily.get("h")),
        low=_number(daily.get("l")),
        previous_close=previous_close,
        change=change,
        change_percent=None
        if change is None or not previous_close
        else change / previous_close * 100,
        volume=_number(daily.get("v")),
    )


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
