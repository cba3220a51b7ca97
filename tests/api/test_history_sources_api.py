"""Stored history through the API: every stored bar of any age, one source per series, how much
history exists, indicators longer than it, and clearCache refreshing from the provider.

Imports go through the real `stockql import-csv` command into the server's PostgreSQL database,
with real prices (bokeh_sampledata, 2000-2013); the provider is the simulator, or a local fake
Alpha Vantage server answering a free key's 100 compact bars."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.adapters.sql.tables import BarRow
from app.cli import cli
from tests.api.conftest import alpha_vantage_settings, api_settings
from tests.support.accounts import admin_token, bearer
from tests.support.fake_alphavantage import UNKNOWN_PREFIX, FakeAlphaVantage
from tests.support.graphql import data, error_code, first_error, replayed
from tests.support.sample_stocks import BARS, FIRST_DAY, LAST_DAY, write_sample_csv
from tests.support.server import RunningServer, running_server
from tests.support.ws import graphql_ws

HISTORY = """
query History($symbol: String!, $start: Date, $end: Date) {
  history(symbol: $symbol, start: $start, end: $end) {
    source cached fetchedAt availableFrom availableTo
    columns { timestamp close }
  }
}
"""
CLEAR_CACHE = "mutation($symbol: String) { clearCache(symbol: $symbol) { symbols keysRemoved } }"


def day(timestamp: str) -> str:
    return timestamp[:10]


async def import_csv(path: Path, symbol: str, *, database_url: str, redis_url: str) -> str:
    """Run `stockql import-csv` (its own event loop, off the test's); returns its output."""

    def run() -> tuple[int, str]:
        env = {"STOCKQL_DATABASE_URL": database_url, "STOCKQL_REDIS_URL": redis_url}
        result = CliRunner().invoke(cli, ["import-csv", str(path), "--symbol", symbol], env=env)
        return result.exit_code, result.output

    code, output = await asyncio.to_thread(run)
    assert code == 0, output
    return output


async def sources_of(server: RunningServer, symbol: str) -> dict[str, int]:
    """How many stored daily bars of `symbol` each source has."""
    query = (
        select(BarRow.source, func.count())  # type: ignore[call-overload]
        .where(BarRow.symbol == symbol, BarRow.interval == "daily")
        .group_by(BarRow.source)
    )
    async with server.app.state.runtime.engine.connect() as connection:
        return dict((await connection.execute(query)).all())


@pytest.fixture
async def simulated(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    settings = api_settings(database_url=pg_url, redis_url=redis_url)
    async with running_server(settings) as running:
        yield running


@pytest.fixture
async def alpha_vantage(
    pg_url: str, redis_url: str, fake_alphavantage: FakeAlphaVantage
) -> AsyncIterator[RunningServer]:
    settings = alpha_vantage_settings(fake_alphavantage, database_url=pg_url, redis_url=redis_url)
    async with running_server(settings) as running:
        yield running


async def test_imported_history_older_than_ten_years_is_served_whole_with_its_source(
    simulated: RunningServer, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    csv = write_sample_csv(tmp_path / "AAPL.csv", "AAPL")
    output = await import_csv(csv, "AAPL", database_url=pg_url, redis_url=redis_url)
    assert f"imported {BARS} daily bars of AAPL ({FIRST_DAY} .. {LAST_DAY})" in output

    body: dict[str, Any] = await simulated.graphql(HISTORY, {"symbol": "AAPL"})
    history = data(body)["history"]
    assert history["source"] == "csv"
    stamps = history["columns"]["timestamp"]
    assert (len(stamps), day(stamps[0]), day(stamps[-1])) == (BARS, FIRST_DAY, LAST_DAY)
    assert (day(history["availableFrom"]), day(history["availableTo"])) == (FIRST_DAY, LAST_DAY)

    ranged = data(
        await simulated.graphql(
            HISTORY, {"symbol": "AAPL", "start": "2001-01-01", "end": "2001-12-31"}
        )
    )["history"]
    assert {day(ts)[:4] for ts in ranged["columns"]["timestamp"]} == {"2001"}
    assert len(ranged["columns"]["timestamp"]) == 248
    assert await sources_of(simulated, "AAPL") == {"csv": BARS}


async def test_the_simulator_never_replaces_an_import_even_after_a_clear(
    simulated: RunningServer, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    csv = write_sample_csv(tmp_path / "IBM.csv", "IBM")
    await import_csv(csv, "IBM", database_url=pg_url, redis_url=redis_url)
    admin = bearer(await admin_token(simulated))
    data(await simulated.graphql(HISTORY, {"symbol": "IBM"}))
    data(await simulated.graphql(CLEAR_CACHE, {"symbol": "IBM"}, headers=admin))

    again = data(await simulated.graphql(HISTORY, {"symbol": "IBM"}))["history"]
    assert (again["source"], again["cached"]) == ("csv", False)
    assert len(again["columns"]["timestamp"]) == BARS
    assert await sources_of(simulated, "IBM") == {"csv": BARS}


async def test_the_latest_price_of_an_imported_symbol_is_its_newest_imported_close(
    simulated: RunningServer, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    csv = write_sample_csv(tmp_path / "IBM.csv", "IBM")
    await import_csv(csv, "IBM", database_url=pg_url, redis_url=redis_url)
    history = data(await simulated.graphql(HISTORY, {"symbol": "IBM"}))["history"]

    body = await simulated.graphql(
        '{ latestPrice(symbol: "IBM") { price timestamp source stale } }'
    )
    quote = data(body)["latestPrice"]
    assert quote["source"] == "csv"
    assert quote["stale"] is True
    assert day(quote["timestamp"]) == LAST_DAY
    assert quote["price"] == history["columns"]["close"][-1]


async def test_an_import_replaces_simulated_bars_and_running_servers_see_it(
    simulated: RunningServer, pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    before = data(await simulated.graphql(HISTORY, {"symbol": "MSFT"}))["history"]
    assert before["source"] == "simulator"
    csv = write_sample_csv(tmp_path / "MSFT.csv", "MSFT")
    output = await import_csv(csv, "MSFT", database_url=pg_url, redis_url=redis_url)
    assert "replaced the simulator bars stored for MSFT daily" in output

    after = data(await simulated.graphql(HISTORY, {"symbol": "MSFT"}))["history"]
    assert after["source"] == "csv"
    assert day(after["columns"]["timestamp"][-1]) == LAST_DAY
    assert await sources_of(simulated, "MSFT") == {"csv": BARS}


async def test_a_start_before_the_stored_history_is_a_warning(simulated: RunningServer) -> None:
    body: dict[str, Any] = await simulated.graphql(
        HISTORY, {"symbol": "MSFT", "start": "1990-01-02"}
    )
    history = data(body)["history"]
    first = datetime.fromisoformat(history["availableFrom"])
    assert first > datetime.now(UTC) - timedelta(days=3700)
    assert history["columns"]["timestamp"][0] == history["availableFrom"]
    (warning,) = body["extensions"]["warnings"]
    assert warning["code"] == "HISTORY_STARTS_LATER"
    assert warning["path"] == ["history"]
    assert "1990-01-02" in warning["message"]
    assert first.date().isoformat() in warning["message"]

    inside: dict[str, Any] = await simulated.graphql(
        HISTORY, {"symbol": "MSFT", "start": first.date().isoformat()}
    )
    assert "warnings" not in inside.get("extensions", {})


async def test_a_free_keys_100_bars_say_how_much_history_exists_and_a_longer_sma_is_empty(
    alpha_vantage: RunningServer,
) -> None:
    body: dict[str, Any] = await alpha_vantage.graphql(
        '{ history(symbol: "IBM", start: "2000-01-03") { availableFrom'
        " columns { timestamp } sma(window: 200) { value } sma20: sma(window: 20) { value }"
        " rsi { value } macd(slow: 150) { macd } } }"
    )
    assert "errors" not in body, body["errors"]
    history = body["data"]["history"]
    assert len(history["columns"]["timestamp"]) == 100
    assert history["availableFrom"] == history["columns"]["timestamp"][0]
    assert history["sma"] == []
    assert history["macd"] == []
    assert len(history["sma20"]) == 81
    assert len(history["rsi"]) == 86
    warnings = {tuple(w["path"]): w for w in body["extensions"]["warnings"]}
    assert warnings[("history",)]["code"] == "HISTORY_STARTS_LATER"
    too_long = warnings[("history", "sma")]
    assert too_long["code"] == "INDICATOR_WINDOW_TOO_LONG"
    assert "100 data points" in too_long["message"]
    assert warnings[("history", "macd")]["code"] == "INDICATOR_WINDOW_TOO_LONG"


async def test_after_a_clear_the_next_history_is_fetched_from_the_provider(
    alpha_vantage: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    first = data(await alpha_vantage.graphql(HISTORY, {"symbol": "TSLA"}))["history"]
    assert replayed(await alpha_vantage.graphql(HISTORY, {"symbol": "TSLA"}))
    calls = len(fake_alphavantage.calls)
    admin = bearer(await admin_token(alpha_vantage))

    cleared = data(await alpha_vantage.graphql(CLEAR_CACHE, {"symbol": "TSLA"}, headers=admin))
    again = data(await alpha_vantage.graphql(HISTORY, {"symbol": "TSLA"}))["history"]

    assert cleared["clearCache"]["symbols"] == ["TSLA"]
    assert [call["function"] for call in fake_alphavantage.calls[calls:]] == ["TIME_SERIES_DAILY"]
    assert again["cached"] is False
    assert again["fetchedAt"] > first["fetchedAt"]


async def test_clearing_an_unknown_symbol_is_not_found(simulated: RunningServer) -> None:
    admin = bearer(await admin_token(simulated))
    body = await simulated.graphql(CLEAR_CACHE, {"symbol": "Tesla"}, headers=admin)
    assert error_code(body) == "NOT_FOUND"
    history = await simulated.graphql(HISTORY, {"symbol": "Tesla"})
    assert error_code(history) == "NOT_FOUND"
    assert first_error(body)["message"] == first_error(history)["message"]

    known = data(await simulated.graphql(CLEAR_CACHE, {"symbol": "TSLA"}, headers=admin))
    assert known["clearCache"] == {"symbols": ["TSLA"], "keysRemoved": 0}


async def test_clearing_a_symbol_alpha_vantage_does_not_know_is_not_found(
    alpha_vantage: RunningServer,
) -> None:
    admin = bearer(await admin_token(alpha_vantage))
    body = await alpha_vantage.graphql(CLEAR_CACHE, {"symbol": UNKNOWN_PREFIX + "Q"}, headers=admin)
    assert error_code(body) == "NOT_FOUND"


async def test_a_history_query_over_a_websocket_carries_its_warning(
    simulated: RunningServer,
) -> None:
    async with graphql_ws(simulated.base_url) as ws:
        await ws.init()
        first = await ws.subscribe(HISTORY, {"symbol": "MSFT", "start": "1990-01-02"})
        payload = await ws.next_payload(first)
        second = await ws.subscribe(HISTORY, {"symbol": "MSFT"})
        again = await ws.next_payload(second)
    assert payload["data"]["history"]["availableFrom"]
    assert payload["extensions"]["warnings"][0]["code"] == "HISTORY_STARTS_LATER"
    # Warnings belong to their operation, not to the connection.
    assert "warnings" not in again.get("extensions", {})
