from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest

from app.adapters.alphavantage import AlphaVantageProvider
from app.adapters.call_budget import CallBudget, MemoryCallBudget
from domain.market import Interval
from domain.providers import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    UnknownSymbol,
)
from tests.support.fake_alphavantage import (
    BURST_LIMIT,
    EXCHANGE_ZONE,
    FAKE_API_KEY,
    NOTE_LIMIT,
    PREMIUM_BURST_LIMIT,
    PREMIUM_ENDPOINT,
    PREMIUM_MINUTE_LIMIT,
    FakeAlphaVantage,
    daily_limit,
)


class Sleeps:
    """Records backoff delays instead of sleeping through them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


MakeProvider = Callable[..., AlphaVantageProvider]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_provider(
    fake_alphavantage: FakeAlphaVantage, session: aiohttp.ClientSession, sleeps: Sleeps
) -> MakeProvider:
    """A provider against the fake server; keyword arguments override the defaults."""

    def make(**overrides: object) -> AlphaVantageProvider:
        options: dict[str, object] = {
            "session": session,
            "api_key": fake_alphavantage.api_key,
            "base_url": fake_alphavantage.base_url,
            "budget": MemoryCallBudget(per_minute=1000, per_day=1000),
            "timeout_seconds": 2.0,
            "max_retries": 2,
            "backoff_seconds": 0.01,
            "sleep": sleeps,
        }
        options.update(overrides)
        return AlphaVantageProvider(**options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def provider(make_provider: MakeProvider) -> AlphaVantageProvider:
    return make_provider()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_daily_bars_are_the_latest_hundred_oldest_first(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    bars = await provider.fetch_bars("IBM", Interval.DAILY)

    assert len(bars) == 100
    assert bars == sorted(bars, key=lambda bar: bar.timestamp)
    assert all(
        bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high for bar in bars
    )
    assert fake_alphavantage.calls == [
        {
            "function": "TIME_SERIES_DAILY",
            "symbol": "IBM",
            "outputsize": "compact",
            "apikey": fake_alphavantage.api_key,
        }
    ]


async def test_intraday_bars_are_asked_by_interval_and_come_in_utc(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    bars = await provider.fetch_bars("IBM", Interval.FIFTEEN_MINUTES)

    assert fake_alphavantage.calls[0]["interval"] == "15min"
    assert bars[-1].timestamp.tzinfo is UTC
    # The fake's last bar opens at 19:45 New York time: 23:45 or 00:45 UTC.
    assert (bars[-1].timestamp.hour, bars[-1].timestamp.minute) in {(23, 45), (0, 45)}
    assert bars[-1].timestamp - bars[-2].timestamp == timedelta(minutes=15)


async def test_quote_is_the_latest_daily_close(provider: AlphaVantageProvider) -> None:
    quote = await provider.fetch_quote("MSFT")
    bars = await provider.fetch_bars("MSFT", Interval.DAILY)

    assert quote.symbol == "MSFT"
    assert quote.source == "alphavantage"
    assert quote.price == bars[-1].close
    assert quote.previous_close == bars[-2].close


async def test_search_returns_matches_best_first(provider: AlphaVantageProvider) -> None:
    matches = await provider.search("tsco")

    assert [match.symbol for match in matches] == ["TSCO", "TSCO.LON"]
    assert matches[1].currency == "GBX"


async def test_blank_search_costs_no_call(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    assert await provider.search("  ") == []
    assert fake_alphavantage.calls == []


async def test_premium_plan_asks_for_full_history(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    await make_provider(premium=True).fetch_bars("IBM", Interval.DAILY)

    assert fake_alphavantage.calls[0]["outputsize"] == "full"


async def test_premium_plan_asks_compact_when_since_is_recent(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    since = datetime.now(UTC) - timedelta(days=10)

    await make_provider(premium=True).fetch_bars("IBM", Interval.DAILY, since=since)

    assert fake_alphavantage.calls[0]["outputsize"] == "compact"


async def test_free_plan_asks_compact_even_for_old_history(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    await provider.fetch_bars("IBM", Interval.DAILY, since=datetime(2000, 1, 1, tzinfo=UTC))

    assert fake_alphavantage.calls[0]["outputsize"] == "compact"


async def test_weekly_bars_are_not_asked_of_alpha_vantage(provider: AlphaVantageProvider) -> None:
    assert Interval.WEEKLY not in provider.intervals
    with pytest.raises(ValueError, match="weekly"):
        await provider.fetch_bars("IBM", Interval.WEEKLY)


async def test_unknown_symbol_bars_raise_unknown_symbol(provider: AlphaVantageProvider) -> None:
    with pytest.raises(UnknownSymbol):
        await provider.fetch_bars("ZZZX", Interval.DAILY)


async def test_unknown_symbol_quote_raises_unknown_symbol(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    with pytest.raises(UnknownSymbol):
        await provider.fetch_quote("ZZZX")

    assert len(fake_alphavantage.calls) == 1


async def test_wrong_api_key_is_rejected_without_retry(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    with pytest.raises(ProviderRejected):
        await make_provider(api_key="not-the-key").fetch_quote("IBM")

    assert len(fake_alphavantage.calls) == 1


async def test_premium_endpoint_is_rejected_without_retry(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(json=PREMIUM_ENDPOINT)

    with pytest.raises(ProviderRejected):
        await provider.fetch_bars("IBM", Interval.ONE_MINUTE)

    assert len(fake_alphavantage.calls) == 1


async def test_burst_limit_is_retried_until_it_passes(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage, sleeps: Sleeps
) -> None:
    fake_alphavantage.enqueue(json=BURST_LIMIT, times=2)

    quote = await provider.fetch_quote("IBM")

    assert quote.symbol == "IBM"
    assert len(fake_alphavantage.calls) == 3
    # Alpha Vantage asks for one second between calls: no retry comes sooner.
    assert len(sleeps.delays) == 2
    assert min(sleeps.delays) >= 1.0


async def test_burst_limit_past_the_retries_is_raised(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(json=BURST_LIMIT, times=3)

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.fetch_quote("IBM")

    assert caught.value.daily is False
    assert len(fake_alphavantage.calls) == 3  # the first call and max_retries=2


async def test_daily_limit_is_not_retried(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage, sleeps: Sleeps
) -> None:
    fake_alphavantage.enqueue(json=daily_limit(fake_alphavantage.api_key))

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.fetch_quote("IBM")

    assert caught.value.daily is True
    assert len(fake_alphavantage.calls) == 1
    assert sleeps.delays == []


def fixed_clock(iso: str) -> Callable[[], datetime]:
    moment = datetime.fromisoformat(iso)
    return lambda: moment


@pytest.mark.parametrize("limit", [NOTE_LIMIT, PREMIUM_MINUTE_LIMIT], ids=["note", "premium"])
async def test_per_minute_limit_waits_for_the_next_minute_window_and_is_not_retried(
    make_provider: MakeProvider,
    fake_alphavantage: FakeAlphaVantage,
    sleeps: Sleeps,
    limit: dict[str, str],
) -> None:
    fake_alphavantage.enqueue(json=limit)
    provider = make_provider(clock=fixed_clock("2024-03-08T17:47:20Z"))

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.fetch_quote("IBM")

    assert (caught.value.daily, caught.value.retry_after_seconds) == (False, 40.0)
    assert len(fake_alphavantage.calls) == 1
    assert sleeps.delays == []


async def test_per_minute_limit_near_the_minute_end_is_retried_in_the_next_minute(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage, sleeps: Sleeps
) -> None:
    fake_alphavantage.enqueue(json=PREMIUM_MINUTE_LIMIT)
    provider = make_provider(clock=fixed_clock("2024-03-08T17:47:57.5Z"))

    quote = await provider.fetch_quote("IBM")

    assert quote.symbol == "IBM"
    assert len(fake_alphavantage.calls) == 2
    assert len(sleeps.delays) == 1
    assert sleeps.delays[0] >= 2.5


@pytest.mark.parametrize(
    ("now", "wait"),
    [("2024-03-08T17:47:00Z", 6 * 3600 + 13 * 60), ("2024-03-08T23:59:59.5Z", 0.5)],
    ids=["afternoon", "last-second"],
)
async def test_daily_limit_waits_for_the_next_utc_midnight(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage, now: str, wait: float
) -> None:
    fake_alphavantage.enqueue(json=daily_limit(fake_alphavantage.api_key))

    with pytest.raises(ProviderRateLimited) as caught:
        await make_provider(clock=fixed_clock(now)).fetch_bars("IBM", Interval.DAILY)

    assert caught.value.daily is True
    assert caught.value.retry_after_seconds == pytest.approx(wait)
    assert len(fake_alphavantage.calls) == 1  # a daily limit is never retried, however near


async def test_premium_burst_limit_is_retried_after_a_second(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage, sleeps: Sleeps
) -> None:
    fake_alphavantage.enqueue(json=PREMIUM_BURST_LIMIT)

    await provider.fetch_quote("IBM")

    assert len(fake_alphavantage.calls) == 2
    assert sleeps.delays[0] >= 1.0


async def test_a_free_key_over_its_day_gets_the_daily_limit_from_the_fake(
    make_provider: MakeProvider,
) -> None:
    async with FakeAlphaVantage(calls_per_day=2) as fake:
        provider = make_provider(base_url=fake.base_url)
        await provider.fetch_quote("IBM")
        await provider.fetch_quote("MSFT")

        with pytest.raises(ProviderRateLimited) as caught:
            await provider.fetch_quote("AAPL")

    assert caught.value.daily is True
    wait = caught.value.retry_after_seconds
    assert wait is not None
    assert 0 < wait <= 86_400
    assert len(fake.calls) == 3


async def test_a_premium_key_over_its_minute_gets_the_per_minute_limit_from_the_fake(
    make_provider: MakeProvider,
) -> None:
    async with FakeAlphaVantage(calls_per_minute=1) as fake:
        # The fake counts real clock minutes: both calls must fall into one.
        into_minute = time.time() % 60
        if into_minute > 55:
            await asyncio.sleep(60 - into_minute)
        # The provider's clock is in the middle of a minute: its wait is too long to retry.
        provider = make_provider(base_url=fake.base_url, clock=fixed_clock("2024-03-08T17:47:20Z"))
        first = await provider.fetch_quote("IBM")
        with pytest.raises(ProviderRateLimited) as caught:
            await provider.fetch_quote("MSFT")

    assert (caught.value.daily, caught.value.retry_after_seconds) == (False, 40.0)
    assert first.symbol == "IBM"


@pytest.mark.parametrize(
    ("today", "fetched", "stamped"),
    [
        # The report: a winter quote read at 17:47 UTC said 21:00 UTC, hours ahead.
        ("2024-03-08", "2024-03-08T17:47:00Z", "2024-03-08T17:47:00Z"),
        ("2024-03-11", "2024-03-11T20:30:00Z", "2024-03-11T20:00:00Z"),
        ("2024-11-01", "2024-11-01T20:30:00Z", "2024-11-01T20:00:00Z"),
        ("2024-11-04", "2024-11-04T20:30:00Z", "2024-11-04T20:30:00Z"),
    ],
    ids=["winter-in-session", "after-spring-forward", "before-fall-back", "after-fall-back"],
)
async def test_quote_is_never_stamped_after_the_fetch(
    make_provider: MakeProvider, today: str, fetched: str, stamped: str
) -> None:
    async with FakeAlphaVantage(today=date.fromisoformat(today)) as fake:
        provider = make_provider(base_url=fake.base_url, clock=fixed_clock(fetched))
        quote = await provider.fetch_quote("IBM")

    assert quote.timestamp == datetime.fromisoformat(stamped)


@pytest.mark.parametrize(
    ("today", "first_opens"),
    [
        # The session's first bar opens at 04:00 New York time: 09:00 UTC in winter time and
        # 08:00 UTC in summer time, either side of the changes of 2024-03-10 and 2024-11-03.
        ("2024-03-12", {"2024-03-08": 9, "2024-03-11": 8, "2024-03-12": 8}),
        ("2024-11-05", {"2024-11-01": 8, "2024-11-04": 9, "2024-11-05": 9}),
    ],
    ids=["spring-forward", "fall-back"],
)
@pytest.mark.parametrize("zone", ["US/Eastern", "UTC", "Asia/Tokyo"])
async def test_intraday_bars_across_a_dst_change_are_read_in_the_named_time_zone(
    make_provider: MakeProvider, today: str, first_opens: dict[str, int], zone: str
) -> None:
    async with FakeAlphaVantage(today=date.fromisoformat(today), time_zone=zone) as fake:
        bars = await make_provider(base_url=fake.base_url).fetch_bars("IBM", Interval.ONE_HOUR)

    firsts: dict[str, int] = {}  # New York trading day -> UTC hour of its first bar
    for bar in bars:
        day = bar.timestamp.astimezone(EXCHANGE_ZONE).date().isoformat()
        firsts.setdefault(day, bar.timestamp.hour)
    assert {day: firsts[day] for day in first_opens} == first_opens
    assert all(bar.timestamp.tzinfo is UTC for bar in bars)


async def test_server_error_is_retried_until_it_passes(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(status=503, times=2)

    bars = await provider.fetch_bars("IBM", Interval.DAILY)

    assert len(bars) == 100
    assert len(fake_alphavantage.calls) == 3


async def test_server_error_past_the_retries_is_unavailable(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(status=500, times=3)

    with pytest.raises(ProviderError) as caught:
        await provider.fetch_quote("IBM")

    assert type(caught.value) is ProviderUnavailable
    assert "HTTP 500" in str(caught.value)
    assert len(fake_alphavantage.calls) == 3


async def test_backoff_doubles_with_each_retry(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage, sleeps: Sleeps
) -> None:
    fake_alphavantage.enqueue(status=502, times=2)

    await provider.fetch_quote("IBM")

    first, second = sleeps.delays
    assert 0.005 <= first <= 0.01
    assert 0.01 <= second <= 0.02


async def test_too_many_requests_status_is_retried(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(status=429)

    await provider.fetch_quote("IBM")

    assert len(fake_alphavantage.calls) == 2


async def test_client_error_status_is_unavailable_without_retry(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(status=404)

    with pytest.raises(ProviderUnavailable, match="HTTP 404"):
        await provider.fetch_quote("IBM")

    assert len(fake_alphavantage.calls) == 1


async def test_timeout_is_retried_then_unavailable(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(delay=5, times=2)
    provider = make_provider(timeout_seconds=0.2, max_retries=1)

    with pytest.raises(ProviderUnavailable, match=r"no answer within 0\.2s"):
        await provider.fetch_quote("IBM")

    assert len(fake_alphavantage.calls) == 2


async def test_connection_error_is_retried_then_unavailable(
    make_provider: MakeProvider, sleeps: Sleeps
) -> None:
    provider = make_provider(base_url=f"http://127.0.0.1:{free_port()}/query")

    with pytest.raises(ProviderUnavailable, match="ClientConnectorError"):
        await provider.fetch_quote("IBM")

    assert len(sleeps.delays) == 2


async def test_html_page_is_unavailable_without_retry(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(text="<html><body>Bad gateway</body></html>")

    with pytest.raises(ProviderUnavailable, match="not JSON"):
        await provider.fetch_quote("IBM")

    assert len(fake_alphavantage.calls) == 1


async def test_malformed_json_is_unavailable(
    provider: AlphaVantageProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    fake_alphavantage.enqueue(text='{"Global Quote": {"01. symbol": "IBM"')

    with pytest.raises(ProviderUnavailable):
        await provider.fetch_quote("IBM")


async def test_budget_refusal_stops_calls_before_they_leave(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    budget = MemoryCallBudget(per_minute=100, per_day=2)
    provider = make_provider(budget=budget)
    await provider.fetch_quote("IBM")
    await provider.fetch_quote("MSFT")

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.fetch_quote("AAPL")

    assert caught.value.daily is True
    assert len(fake_alphavantage.calls) == 2


async def test_retries_draw_from_the_budget(
    make_provider: MakeProvider, fake_alphavantage: FakeAlphaVantage
) -> None:
    budget: CallBudget = MemoryCallBudget(per_minute=100, per_day=2)
    fake_alphavantage.enqueue(json=BURST_LIMIT, times=3)

    with pytest.raises(ProviderRateLimited) as caught:
        await make_provider(budget=budget).fetch_quote("IBM")

    assert caught.value.daily is True  # the budget's refusal, not Alpha Vantage's
    assert len(fake_alphavantage.calls) == 2


FAILURES = {
    "daily-limit": {"json": daily_limit(FAKE_API_KEY)},
    "server-error": {"status": 500, "times": 3},
    "timeout": {"delay": 5, "times": 3},
    "html": {"text": f"<html>key {FAKE_API_KEY} seen</html>"},
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
async def test_api_key_is_absent_from_errors_and_logs(
    make_provider: MakeProvider,
    fake_alphavantage: FakeAlphaVantage,
    caplog: pytest.LogCaptureFixture,
    failure: dict[str, object],
) -> None:
    fake_alphavantage.enqueue(**failure)  # type: ignore[arg-type]
    provider = make_provider(timeout_seconds=0.2)

    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as caught:
        await provider.fetch_quote("IBM")

    assert FAKE_API_KEY not in str(caught.value)
    assert FAKE_API_KEY not in caplog.text


async def test_api_key_is_scrubbed_from_aiohttp_errors_in_any_encoding(
    make_provider: MakeProvider,
    fake_alphavantage: FakeAlphaVantage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A session that raises for statuses puts the full URL, query string included, in its errors.
    fake_alphavantage.enqueue(status=503, times=3)
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        provider = make_provider(session=session, api_key="k3y/with+odd=chars")
        with caplog.at_level(logging.DEBUG), pytest.raises(ProviderUnavailable) as caught:
            await provider.fetch_quote("IBM")

    assert "apikey=***" in str(caught.value)
    for text in (str(caught.value), caplog.text):
        assert "odd" not in text
