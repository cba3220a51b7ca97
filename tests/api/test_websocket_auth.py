"""Websocket connections: both protocols, tokens in connection_init, origins."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.accounts import signed_up
from tests.support.server import RunningServer
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
