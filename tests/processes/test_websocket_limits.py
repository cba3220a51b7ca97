"""`stockql serve` caps websocket messages at the HTTP body limit (STOCKQL_MAX_BODY_BYTES)."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.processes import running_stockql, stockql_env
from tests.support.server import free_port
from tests.support.ws import graphql_ws

MAX_BODY = 100_000


async def test_a_websocket_message_over_the_body_limit_closes_the_connection(
    tmp_path: Path,
) -> None:
    env = stockql_env(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}",
        port=str(free_port()),
        migrate_on_start="true",
        max_body_bytes=str(MAX_BODY),
    )
    async with running_stockql("serve", env, directory=tmp_path) as server:
        async with graphql_ws(server.base_url) as ws:
            assert (await ws.init())["type"] == "connection_ack"
            big = {"id": "1", "type": "subscribe", "payload": {"query": "x" * (MAX_BODY * 2)}}
            await ws.send(big)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
