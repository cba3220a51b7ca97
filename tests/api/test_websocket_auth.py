"""Websocket connections: both protocols, tokens in connection_init, origins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api.conftest import api_settings
from tests.support.accounts import signed_up
from tests.support.server import RunningServer, running_server
from tests.support.ws import LEGACY_WS, TRANSPORT_WS, graphql_ws


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_anonymous_connections_are_acknowledged(
    sqlite_server: RunningServer, protocol: str
) -> None:
    async with graphql_ws(sqlite_server.base_url, protocol=protocol) as ws:
        assert (await ws.init())["type"] == "connection_ack"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("prefix", ["", "Bearer "])
async def test_a_valid_token_is_acknowledged(
    sqlite_server: RunningServer, protocol: str, prefix: str
) -> None:
    token, _ = await signed_up(sqlite_server)
    async with graphql_ws(sqlite_server.base_url, protocol=protocol) as ws:
        assert (await ws.init({"authToken": prefix + token}))["type"] == "connection_ack"


async def test_a_bad_token_closes_a_transport_ws_connection_with_4403(
    sqlite_server: RunningServer,
) -> None:
    async with graphql_ws(sqlite_server.base_url) as ws:
        await ws.send({"type": "connection_init", "payload": {"authToken": "forged.token.here"}})
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


async def test_a_bad_token_gets_a_legacy_connection_error(sqlite_server: RunningServer) -> None:
    async with graphql_ws(sqlite_server.base_url, protocol=LEGACY_WS) as ws:
        answer = await ws.init({"authToken": "forged.token.here"})
        assert answer["type"] == "connection_error"
        assert answer["payload"]["code"] == "UNAUTHENTICATED"


async def test_a_foreign_browser_origin_is_refused(sqlite_server: RunningServer) -> None:
    with pytest.raises(InvalidStatus):
        async with graphql_ws(sqlite_server.base_url, origin="https://evil.example"):
            pass


@pytest.fixture
async def impatient_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """The embedded defaults with a short connection_init deadline."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}"
    settings = api_settings(database_url=url, ws_connection_init_timeout_seconds=0.3)
    async with running_server(settings) as running:
        yield running


async def test_a_transport_ws_connection_without_connection_init_is_closed_with_4408(
    impatient_server: RunningServer,
) -> None:
    async with graphql_ws(impatient_server.base_url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive(within=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4408
        assert closed.value.rcvd.reason == "Connection initialisation timeout"


async def test_connection_init_in_time_keeps_the_connection_past_the_deadline(
    impatient_server: RunningServer,
) -> None:
    async with graphql_ws(impatient_server.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        await asyncio.sleep(0.6)  # twice the deadline
        await ws.subscribe("{ __typename }")
        answer = await ws.receive(within=5)
        assert answer["type"] == "next"
        assert answer["payload"] == {"data": {"__typename": "Query"}}
