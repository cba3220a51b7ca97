"""StreamIngest: trades into published prices (newest per symbol) and stored minute bars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from app.metrics import Metrics
from app.stream_ingest import StreamIngest
from domain.bar_store import FetchRecord
from domain.events import PriceUpdated
from domain.history import HistoryService, StoredSeries
from domain.market import BarSeries, Interval, Quote
from domain.price_publishing import PricePublisher, price_event
from domain.quotes import QuoteService
from domain.streaming import MinuteBar, StreamProblem, Trade
from tests.support.fakes import Clock, daily_bars
from tests.support.streams import sample

T0 = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)


class Published:
    def __init__(self) -> None:
        self.quotes: list[Quote] = []
        self.remembered: list[Quote] = []

    async def publish_quote(self, quote: Quote) -> PriceUpdated:
        self.quotes.append(quote)
        return price_event(quote)

    async def remember(self, quote: Quote) -> None:
        self.remembered.append(quote)


class DailyHistory:
    async def stored_series(self, symbol: str, interval: Interval) -> StoredSeries:
        assert interval is Interval.DAILY
        bars = daily_bars(5, start=T0.replace(hour=0, minute=0) - timedelta(days=5))
        return StoredSeries(BarSeries.from_bars(bars), "fake", T0)


class Sink:
    def __init__(self) -> None:
        self.bars: list[MinuteBar] = []
        self.records: list[FetchRecord] = []
        self.failing = False

    async def upsert_minute_bars(self, bars: Sequence[MinuteBar], *, source: str) -> int:
        if self.failing:
            raise ConnectionError("database down")
        assert source == "finnhub-stream"
        self.bars.extend(bars)
        return len(bars)

    async def record_fetch(self, record: FetchRecord) -> None:
        self.records.append(record)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(seconds=30))


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def ingest(published: Published, sink: Sink, clock: Clock, metrics: Metrics) -> StreamIngest:
    return StreamIngest(
        provider="finnhub",
        publisher=cast(PricePublisher, published),
        quotes=cast(QuoteService, published),
        history=cast(HistoryService, DailyHistory()),
        bars=sink,
        metrics=metrics,
        clock=clock,
    )


def trade(seconds: float, price: float, symbol: str = "AAPL", size: float = 1.0) -> Trade:
    return Trade(symbol, price, size, T0 + timedelta(seconds=seconds))


async def test_a_burst_is_published_as_each_symbols_newest_trade(
    ingest: StreamIngest, published: Published, metrics: Metrics
) -> None:
    await ingest.on_trades([trade(1, 100.0), trade(2, 101.0), trade(1.5, 50.0, "MSFT")])
    await ingest.on_trades([trade(3, 102.0)])
    assert await ingest.publish_pending() == 2
    assert {(q.symbol, q.price) for q in published.quotes} == {("AAPL", 102.0), ("MSFT", 50.0)}
    assert published.remembered == published.quotes
    assert sample(metrics, "stockql_stream_trades_total", provider="finnhub") == 4
    assert sample(metrics, "stockql_stream_publish_lag_seconds_count", provider="finnhub") == 2


async def test_a_late_trade_never_becomes_the_latest_price(
    ingest: StreamIngest, published: Published
) -> None:
    await ingest.on_trades([trade(10, 100.0)])
    await ingest.publish_pending()
    await ingest.on_trades([trade(5, 90.0)])  # older than the published one
    assert await ingest.publish_pending() == 0
    [bar] = ingest.book.take_changed()
    assert (bar.open, bar.close, bar.low, bar.trades) == (90.0, 100.0, 90.0, 2)


async def test_the_price_carries_its_change_from_the_previous_daily_close(
    ingest: StreamIngest, published: Published
) -> None:
    await ingest.on_trades([trade(1, 110.0)])
    await ingest.publish_pending()
    [quote] = published.quotes
    bars = daily_bars(5, start=T0.replace(hour=0, minute=0) - timedelta(days=5))
    previous = [bar.close for bar in bars if bar.timestamp.date() < T0.date()][-1]
    assert quote.previous_close == previous
    assert quote.change == pytest.approx(110.0 - previous)
    assert (quote.source, quote.timestamp, quote.stale) == (
        "finnhub-stream",
        T0 + timedelta(seconds=1),
        False,
    )


async def test_flush_writes_the_changed_bars_and_records_the_stream_as_source(
    ingest: StreamIngest, sink: Sink, clock: Clock
) -> None:
    await ingest.on_trades([trade(1, 100.0), trade(2, 101.0, "MSFT")])
    assert await ingest.flush() == 2
    assert {(r.symbol, r.interval, r.source) for r in sink.records} == {
        ("AAPL", Interval.MIN1, "finnhub-stream"),
        ("MSFT", Interval.MIN1, "finnhub-stream"),
    }
    assert await ingest.flush() == 0  # nothing changed since


async def test_bars_a_failed_flush_left_are_written_by_the_next(
    ingest: StreamIngest, sink: Sink, clock: Clock
) -> None:
    await ingest.on_trades([trade(1, 100.0)])
    sink.failing = True
    assert await ingest.flush() == 0
    clock.now = T0 + timedelta(minutes=3)  # the bar is final meanwhile
    sink.failing = False
    assert await ingest.flush() == 1
    assert [bar.close for bar in sink.bars] == [100.0]


async def test_a_provider_bar_is_stored_in_place_of_ours(ingest: StreamIngest, sink: Sink) -> None:
    await ingest.on_trades([trade(1, 100.0)])
    theirs = MinuteBar("AAPL", T0, 99.0, 102.0, 98.0, 101.0, 900.0, 9, 100.5)
    await ingest.on_bar(theirs)
    await ingest.flush()
    assert sink.bars == [theirs]


async def test_problems_are_counted_by_code(
    ingest: StreamIngest, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    await ingest.on_problem(StreamProblem("refused", code="auth", fatal=True))
    await ingest.on_problem(StreamProblem("dropped", code="disconnected"))
    assert sample(metrics, "stockql_stream_problems_total", provider="finnhub", code="auth") == 1
    levels: dict[str, Any] = {record.getMessage(): record.levelname for record in caplog.records}
    assert levels == {
        "finnhub stream problem (auth): refused": "ERROR",
        "finnhub stream problem (disconnected): dropped": "WARNING",
    }
