"""The server with Alpaca as its only provider (STOCKQL_PROVIDER=alpaca), on a local fake of
Alpaca's REST API: history and latest prices without Alpha Vantage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.conftest import api_settings
from tests.support.fake_alpaca_data import FakeAlpacaData
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer, running_server

HISTORY = """
query($symbol: String!, $interval: Interval!) {
  history(symbol: $symbol, interval: $interval) { source bars { timestamp close } }
}
"""
LATEST_PRICE = """
query($symbol: String!) { latestPrice(symbol: $symbol) { price change source stale } }
"""
SEARCH = 'query { searchSymbols(query: "Microsoft") { symbol } }'


@pytest.fixture
async def fake() -> AsyncIterator[FakeAlpacaData]:
    async with FakeAlpacaData(page_size=500) as fake:
        yield fake


@pytest.fixture
async def server(fake: FakeAlpacaData, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'alpaca.db'}",
        alpaca_key_id=fake.key_id,
        alpaca_secret_key=fake.secret_key,
        alpaca_data_url=fake.base_url,
    )
    async with running_server(settings) as running:
        yield running


async def test_the_alpaca_keys_alone_make_alpaca_the_provider_of_daily_history(
    server: RunningServer, fake: FakeAlpacaData
) -> None:
    body = await server.graphql(HISTORY, {"symbol": "AAPL", "interval": "DAILY"})
    history = data(body)["history"]
    assert history["source"] == "alpaca"
    last = history["bars"][-1]
    newest = fake.daily_starts(datetime.now(UTC) - timedelta(days=7))[-1]
    assert datetime.fromisoformat(last["timestamp"]).date() == newest.date()
    assert fake.calls[0][1]["timeframe"] == "1Day"


async def test_intraday_history_and_latest_price_come_from_alpaca(
    server: RunningServer, fake: FakeAlpacaData
) -> None:
    bars = data(await server.graphql(HISTORY, {"symbol": "MSFT", "interval": "FIVE_MINUTES"}))
    assert bars["history"]["bars"]
    quote = data(await server.graphql(LATEST_PRICE, {"symbol": "MSFT"}))["latestPrice"]
    assert quote == {"price": 187.5, "change": 2.5, "source": "alpaca", "stale": False}
    assert {path for path, _ in fake.calls} == {
        "/v2/stocks/MSFT/bars",
        "/v2/stocks/MSFT/snapshot",
    }


async def test_an_unknown_symbol_is_not_found_and_search_needs_no_call(
    server: RunningServer, fake: FakeAlpacaData
) -> None:
    assert error_code(await server.graphql(LATEST_PRICE, {"symbol": "ZZZQ"})) == "NOT_FOUND"
    calls = len(fake.calls)
    symbols = [m["symbol"] for m in data(await server.graphql(SEARCH))["searchSymbols"]]
    assert "MSFT" in symbols
    assert len(fake.calls) == calls
