"""The Alpha Vantage market data provider over aiohttp.

Every upstream call draws from a CallBudget first. The burst limit, HTTP 5xx, 429, timeouts
and connection errors are retried with exponential backoff and jitter, and so is a per-minute
limit when its minute ends within a few seconds; answers that a retry cannot change (daily
limit, rejected key or plan, unknown symbol, a body we cannot read) are raised at once. Every
rate limit raised says how long to wait: to the next minute window for a per-minute limit, to
the next 00:00 UTC for the daily one, as the CallBudget's own refusals do. The api key travels
in the query string, as Alpha Vantage requires, so it is scrubbed from every message this
module raises or logs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import aiohttp

from app.adapters import _alphavantage_parsing as parsing
from app.adapters.call_budget import CallBudget
from app.metrics import Metrics
from domain.market import Bar, Interval, Quote, SymbolMatch
from domain.providers import ProviderError, ProviderRateLimited, ProviderUnavailable

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.alphavantage.co/query"
INTERVALS = frozenset(
    {
        Interval.DAILY,
        Interval.ONE_MINUTE,
        Interval.FIVE_MINUTES,
        Interval.FIFTEEN_MINUTES,
        Interval.THIRTY_MINUTES,
        Interval.ONE_HOUR,
    }
)
# outputsize=compact returns the latest 100 bars.
_COMPACT_BARS = 100
# A rate limit asking us to wait longer than this is raised rather than slept through.
_MAX_RETRY_AFTER_SECONDS = 5.0
_MAX_BACKOFF_SECONDS = 30.0
# The key as aiohttp shows it inside a URL, in whatever encoding.
_APIKEY_PARAM = re.compile(r"(apikey=)[^&\s'\"]+", re.IGNORECASE)

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Transient(ProviderUnavailable):
    """A failure of the transport (5xx, timeout, connection) that a retry may cure."""


class AlphaVantageProvider:
    """MarketDataProvider for Alpha Vantage. The aiohttp session is owned by the caller."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api_key: str,
        budget: CallBudget,
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        premium: bool = False,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = _utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        """`clock` (aware datetimes) stamps quotes and times the waits of rate limits."""
        if not api_key:
            raise ValueError("an Alpha Vantage api key is required")
        self._session = session
        self._api_key = api_key
        self._budget = budget
        self._base_url = base_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_retries = max_retries
        self._premium = premium
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._clock = clock
        self._metrics = metrics if metrics is not None else Metrics()

    @property
    def name(self) -> str:
        return parsing.SOURCE

    @property
    def intervals(self) -> frozenset[Interval]:
        """Daily and the five intraday widths; weekly bars are derived from daily ones."""
        return INTERVALS

    async def fetch_bars(
        self, symbol: str, interval: Interval, *, since: datetime | None = None
    ) -> list[Bar]:
        """Bars oldest first: the latest 100 (compact) or, on premium plans when `since` asks
        for more than that, the full history Alpha Vantage keeps (20+ years daily, 30 days
        intraday). Bars before `since` may be included."""
        if interval not in INTERVALS:
            raise ValueError(f"Alpha Vantage serves no {interval.value} bars here")
        params = {"symbol": symbol, "outputsize": self._output_size(interval, since)}
        if interval is Interval.DAILY:
            params["function"] = "TIME_SERIES_DAILY"
        else:
            params["function"] = "TIME_SERIES_INTRADAY"
            params["interval"] = interval.value
        return await self._call(
            params, lambda body: parsing.parse_bars(body, interval, symbol=symbol)
        )

    async def fetch_quote(self, symbol: str) -> Quote:
        """The latest daily quote (GLOBAL_QUOTE), stamped at that day's New York close, or
        at the fetch time while that close is still ahead."""
        return await self._call(
            {"function": "GLOBAL_QUOTE", "symbol": symbol},
            lambda body: parsing.parse_quote(body, symbol=symbol, now=self._clock()),
        )

    async def search(self, query: str) -> list[SymbolMatch]:
        """Best matches first (SYMBOL_SEARCH). A blank query matches nothing and costs no call."""
        if not query.strip():
            return []
        return await self._call(
            {"function": "SYMBOL_SEARCH", "keywords": query.strip()}, parsing.parse_search
        )

    def _output_size(self, interval: Interval, since: datetime | None) -> str:
        if not self._premium:
            return "compact"  # outputsize=full is a premium feature
        if since is None:
            return "full"
        # 100 bars span at least 100 bar lengths (more with nights and weekends).
        compact_reach = datetime.now(UTC) - _COMPACT_BARS * interval.length
        return "full" if since < compact_reach else "compact"

    async def _call(self, params: dict[str, str], parse: Callable[[bytes], T]) -> T:
        query = {**params, "apikey": self._api_key}
        attempt = 0
        while True:
            await self._budget.acquire()
            try:
                return parse(await self._get(query))
            except ProviderError as exc:
                error = self._scrubbed(exc)
            if isinstance(error, ProviderRateLimited):
                kind = "day" if error.daily else "short"
                self._metrics.provider_rate_limited.labels(self.name, kind).inc()
                if error.retry_after_seconds is None and error.window_seconds:
                    # Alpha Vantage names the window, not the wait.
                    window = error.window_seconds
                    error.retry_after_seconds = window - self._clock().timestamp() % window
            if attempt >= self._max_retries or not _retryable(error):
                if isinstance(error, _Transient):
                    raise ProviderUnavailable(str(error)) from None
                raise error
            delay = self._delay(attempt, error)
            attempt += 1
            logger.warning(
                "alphavantage %s %s failed (%s); retry %d of %d in %.2fs",
                params["function"],
                params.get("symbol", params.get("keywords", "")),
                error,
                attempt,
                self._max_retries,
                delay,
            )
            await self._sleep(delay)

    async def _get(self, query: dict[str, str]) -> bytes:
        function = query["function"]
        self._metrics.provider_requests.labels(self.name, function).inc()
        try:
            async with self._session.get(
                self._base_url, params=query, timeout=self._timeout
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                body = await response.read()
        except TimeoutError:
            raise _Transient(f"{function}: no answer within {self._timeout.total}s") from None
        except aiohttp.ClientError as exc:
            # `from None`: the chained aiohttp error would print the URL, key included.
            raise _Transient(f"{function}: {type(exc).__name__}: {self._scrub(str(exc))}") from None
        if status == 429:
            raise ProviderRateLimited(
                f"{function}: HTTP 429",
                daily=False,
                retry_after_seconds=_seconds(retry_after),
            )
        if status >= 500:
            raise _Transient(f"{function}: HTTP {status}")
        if status != 200:
            raise ProviderUnavailable(f"{function}: HTTP {status}")
        return body

    def _delay(self, attempt: int, error: ProviderError) -> float:
        ceiling = min(_MAX_BACKOFF_SECONDS, self._backoff * 2.0**attempt)
        # Equal jitter: replicas that failed together do not retry together.
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if isinstance(error, ProviderRateLimited) and error.retry_after_seconds:
            delay = max(delay, error.retry_after_seconds)
        return delay

    def _scrub(self, text: str) -> str:
        return _APIKEY_PARAM.sub(r"\1***", text.replace(self._api_key, "***"))

    def _scrubbed(self, error: ProviderError) -> ProviderError:
        # Upstream text may quote the key ("We have detected your API key as ...").
        error.args = tuple(self._scrub(a) if isinstance(a, str) else a for a in error.args)
        return error


def _retryable(error: ProviderError) -> bool:
    if isinstance(error, _Transient):
        return True
    if isinstance(error, ProviderRateLimited) and not error.daily:
        wait = error.retry_after_seconds
        return wait is None or wait <= _MAX_RETRY_AFTER_SECONDS
    return False


def _seconds(retry_after: str | None) -> float | None:
    try:
        return float(retry_after) if retry_after is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough not to parse
