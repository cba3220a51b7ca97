"""The server with the csv provider: bars from files, intervals limited to the files present."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.api.conftest import api_settings
from tests.support.graphql import data, error_code, first_error
from tests.support.server import RunningServer, running_server

ACME_DAILY = """date,open,high,low,close,volume
2024-01-02,100,101,99,100.5,1000
2024-01-03,100.5,102,100,101.5,1200
2024-01-04,101.5,103,101,102.5,900
"""


@pytest.fixture
async def csv_server(tmp_path: Path, pg_url: str) -> AsyncIterator[RunningServer]:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "ACME.csv").write_text(ACME_DAILY)
    settings = api_settings(database_url=pg_url, provider="csv", csv_directory=str(directory))
    async with running_server(settings) as server:
        yield server


async def test_daily_bars_come_from_the_symbols_file(csv_server: RunningServer) -> None:
    body = await csv_server.graphql('{ history(symbol: "acme") { source bars { close } } }')
    history = data(body)["history"]
    assert history["source"] == "csv"
    assert [bar["close"] for bar in history["bars"]] == [100.5, 101.5, 102.5]


async def test_an_interval_the_provider_does_not_offer_is_bad_user_input(
    csv_server: RunningServer,
) -> None:
    body = await csv_server.graphql(
        '{ history(symbol: "ACME", interval: ONE_MINUTE) { bars { close } } }'
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == "interval"


async def test_a_symbol_without_a_file_is_not_found(csv_server: RunningServer) -> None:
    body = await csv_server.graphql('{ history(symbol: "NOPE") { bars { close } } }')
    assert error_code(body) == "NOT_FOUND"
