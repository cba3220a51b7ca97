"""The stream in the worker, on a real runtime (PostgreSQL, Redis) and a fake Finnhub: trades
become published prices and the cached quote, minute bars are stored and served as MIN1,
tracked symbols are followed at run time, only the leader connects."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.runtime import Runtime, open_runtime
from app.settings import Settings
from app.stream_worker import streaming
from domain.alerts.model import AlertCondition
from domain.errors import RateLimited
from domain.market import Interval
from tests.support.fake_finnhub import FakeFinnhub
from tests.support.streams import sample
from tests.support.waiting import eventually


@dataclass
class Leadership:
    leading: bool = True

    def __call__(self) -> bool:
        return self.leading


@pytest.fixture
async def fake() -> AsyncIterator[FakeFinnhub]:
    async with FakeFinnhub(max_symbols=50) as fake:
        yield fake


def stream_settings(pg_url: str, redis_url: str, fake: FakeFinnhub, **values: object) -> Settings:
    options: dict[str, object] = {
        "env": "test",
        "database_url": pg_url,
        "redis_url": redis_url,
        "migrate_on_start": True,
        "symbols": ("AAPL", "MSFT"),
        "stream_provider": "finnhub",
        "finnhub_api_key": fake.api_key,
        "finnhub_stream_url": fake.url,
        "finnhub_max_symbols": 3,
        "max_live_symbols": 5,
        "stream_flush_seconds": 0.05,
        "stream_follow_seconds": 0.05,
        "stream_reconnect_first_seconds": 0.02,
        "stream_reconnect_max_seconds": 0.1,
    }
    return Settings(**(options | values))  # type: ignore[arg-type]


@pytest.fixture
async def runtime(pg_url: str, redis_url: str, fake: FakeFinnhub) -> AsyncIterator[Runtime]:
    async with open_runtime(stream_settings(pg_url, redis_url, fake)) as runtime:
        yield runtime


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_trades_become_the_published_price_and_the_cached_quote(
    runtime: Runtime, fake: FakeFinnhub
) -> None:
    async with streaming(runtime, is_leader=Leadership()):
        await fake.wait_subscribed({"AAPL", "MSFT"})
        at = now_ms()
        await fake.send_trades([("AAPL", 190.0, 5, at), ("AAPL", 190.5, 5, at + 1)])

        async def published() -> bool:
            latest = await runtime.services.prices.latest("AAPL")
            return latest is not None and latest.price == 190.5

        await eventually(published, within=5)
        quote = await runtime.services.quotes.latest("AAPL")
        assert (quote.price, quote.source, quote.stale) == (190.5, "finnhub-stream", False)
        metrics = runtime.metrics
        lag = "stockql_stream_publish_lag_seconds_count"
        await eventually(lambda: sample(metrics, lag, provider="finnhub") >= 1, within=5)
    assert sample(metrics, "stockql_stream_trades_total", provider="finnhub") == 2


async def test_a_streamed_trade_fires_the_alerts_of_its_symbol(
    runtime: Runtime, fake: FakeFinnhub
) -> None:
    services = runtime.services
    await services.alerts.create(
        "stream-user", symbol="AAPL", condition=AlertCondition.PRICE_ABOVE, threshold=500.0
    )
    async with streaming(runtime, is_leader=Leadership()):
        await fake.wait_subscribed({"AAPL", "MSFT"})
        await fake.send_trades([("AAPL", 501.25, 1, now_ms())])

        async def notified() -> bool:
            return bool(await services.notifications.recent("stream-user"))

        await eventually(notified, within=5)
    [notification] = await services.notifications.recent("stream-user")
    assert notification.symbol == "AAPL"
    assert "501.25" in notification.message


async def test_trades_are_stored_as_minute_bars_served_by_history_min1(
    runtime: Runtime, fake: FakeFinnhub
) -> None:
    async with streaming(runtime, is_leader=Leadership()):
        await fake.wait_subscribed({"AAPL", "MSFT"})
        at = now_ms()
        await fake.send_trades([("MSFT", 400.0, 10, at), ("MSFT", 402.0, 30, at + 5)])

        async def stored() -> bool:
            bars = await runtime.bar_store.load_minute_bars("MSFT")
            return bool(bars) and bars[-1].trades == 2

        await eventually(stored, within=5)
    [bar] = await runtime.bar_store.load_minute_bars("MSFT")
    assert (bar.open, bar.high, bar.close, bar.volume, bar.vwap) == (400, 402, 402, 40, 401.5)
    history = await runtime.services.history.history("MSFT", Interval.MIN1)
    assert history.source == "finnhub-stream"
    assert history.series.close == [402.0]


async def test_symbols_with_live_subscribers_are_followed_without_reconnecting(
    runtime: Runtime, fake: FakeFinnhub
) -> None:
    tracked = runtime.services.tracked
    async with streaming(runtime, is_leader=Leadership()):
        await fake.wait_subscribed({"AAPL", "MSFT"})
        async with tracked.watching("TSLA"):
            await fake.wait_subscribed({"AAPL", "MSFT", "TSLA"})
            # The stream follows 3 symbols: a live subscription to a fourth is refused.
            with pytest.raises(RateLimited, match="at most 1 symbol"):
                async with tracked.watching("GOOG"):
                    pass
        await fake.wait_subscribed({"AAPL", "MSFT"})
    assert fake.connections_opened == 1


async def test_only_the_leader_connects(runtime: Runtime, fake: FakeFinnhub) -> None:
    leadership = Leadership(leading=False)
    async with streaming(runtime, is_leader=leadership):
        await eventually(lambda: fake.connections_opened == 0, within=1)
        leadership.leading = True
        await fake.wait_subscribed({"AAPL", "MSFT"})
        leadership.leading = False
        await eventually(lambda: fake.open_connections == 0, within=5)
    assert fake.connections_opened == 1


async def test_a_refused_key_is_logged_and_counted_and_nothing_crashes(
    pg_url: str, redis_url: str, fake: FakeFinnhub, caplog: pytest.LogCaptureFixture
) -> None:
    # Symbols of its own: the other tests' streamed quotes may share this Redis.
    settings = stream_settings(
        pg_url, redis_url, fake, finnhub_api_key="not-the-key", symbols=("IBM", "ORCL")
    )
    async with open_runtime(settings) as runtime, streaming(runtime, is_leader=Leadership()):
        await eventually(
            lambda: (
                sample(
                    runtime.metrics,
                    "stockql_stream_problems_total",
                    provider="finnhub",
                    code="auth",
                )
                >= 1
            ),
            within=10,
        )
        # The latest price still comes from the provider meanwhile.
        assert (await runtime.services.quotes.latest("IBM")).source == "simulator"
    assert "finnhub refused the API key" in caplog.text
    assert "not-the-key" not in caplog.text


async def test_configured_symbols_past_the_limit_are_refused_in_logs_and_metrics(
    pg_url: str, redis_url: str, fake: FakeFinnhub, caplog: pytest.LogCaptureFixture
) -> None:
    settings = stream_settings(
        pg_url, redis_url, fake, symbols=("AAPL", "MSFT", "TSLA", "GOOG"), max_live_symbols=0
    )
    async with open_runtime(settings) as runtime, streaming(runtime, is_leader=Leadership()):
        await fake.wait_subscribed({"AAPL", "MSFT", "TSLA"})
        metrics = runtime.metrics
        assert (
            sample(
                metrics, "stockql_stream_problems_total", provider="finnhub", code="symbol_limit"
            )
            == 1
        )
    assert "GOOG not streamed" in caplog.text
