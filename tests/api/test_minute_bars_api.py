"""MIN1 history through HTTP against the real app (PostgreSQL, Redis): minute bars the stream
stored carry their trade count and VWAP, null where unknown; other intervals answer null."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from app.runtime import Runtime
from domain.bar_store import FetchRecord
from domain.market import Interval
from domain.streaming import MinuteBar
from tests.api.conftest import api_settings
from tests.support.graphql import data
from tests.support.server import RunningServer, running_server

HISTORY = """
query History($symbol: String!, $interval: Interval!) {
  history(symbol: $symbol, interval: $interval) {
    interval source
    bars { timestamp close volume trades vwap }
    columns { timestamp close volume trades vwap }
  }
}
"""
T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
SOURCE = "finnhub-stream"


@pytest.fixture
async def server(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    """The app serving MIN1 from its database, as beside a worker that streams from Finnhub
    (the stream itself runs in the worker, not here)."""
    settings = api_settings(database_url=pg_url, redis_url=redis_url, stream_provider="finnhub")
    async with running_server(settings) as running:
        yield running


async def store_minute_bars(server: RunningServer, bars: list[MinuteBar]) -> None:
    """What the worker's stream ingest does with the bars it built (app/stream_ingest.py)."""
    runtime: Runtime = server.app.state.runtime
    await runtime.bar_store.upsert_minute_bars(bars, source=SOURCE)
    for symbol in {bar.symbol for bar in bars}:
        record = FetchRecord(symbol, Interval.MIN1, datetime.now(UTC), SOURCE)
        await runtime.bar_store.record_fetch(record)


async def test_min1_bars_answer_their_trade_count_and_vwap(server: RunningServer) -> None:
    await store_minute_bars(
        server,
        [
            MinuteBar("MSFT", T0, 400.0, 402.0, 399.5, 402.0, 40.0, 2, 401.5),
            # A provider bar that came without a count and VWAP (Alpaca's "n" and "vw").
            MinuteBar(
                "MSFT", T0 + timedelta(minutes=1), 402.0, 403.0, 401.0, 402.5, 10.0, None, None
            ),
        ],
    )
    history = data(await server.graphql(HISTORY, {"symbol": "MSFT", "interval": "MIN1"}))["history"]
    assert (history["interval"], history["source"]) == ("MIN1", SOURCE)
    assert history["bars"] == [
        {
            "timestamp": "2025-03-03T14:30:00Z",
            "close": 402.0,
            "volume": 40.0,
            "trades": 2,
            "vwap": 401.5,
        },
        {
            "timestamp": "2025-03-03T14:31:00Z",
            "close": 402.5,
            "volume": 10.0,
            "trades": None,
            "vwap": None,
        },
    ]
    assert history["columns"] == {
        "timestamp": ["2025-03-03T14:30:00Z", "2025-03-03T14:31:00Z"],
        "close": [402.0, 402.5],
        "volume": [40.0, 10.0],
        "trades": [2, None],
        "vwap": [401.5, None],
    }


async def test_daily_bars_answer_null_trade_count_and_vwap(server: RunningServer) -> None:
    history = data(await server.graphql(HISTORY, {"symbol": "MSFT", "interval": "DAILY"}))[
        "history"
    ]
    assert (history["interval"], history["source"]) == ("DAILY", "simulator")
    bars, columns = history["bars"], history["columns"]
    assert len(bars) >= 2500
    assert {(bar["trades"], bar["vwap"]) for bar in bars} == {(None, None)}
    assert columns["trades"] == columns["vwap"] == [None] * len(bars)
    assert columns["close"] == [bar["close"] for bar in bars]
