"""`stockql serve`'s connection limits: websocket messages are capped at the HTTP body limit
(STOCKQL_MAX_BODY_BYTES) and a request head must arrive within STOCKQL_REQUEST_READ_TIMEOUT_SECONDS
(the limits in detail: tests/api/test_slow_clients_api.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.processes import embedded_serve_env, running_stockql
from tests.support.server import free_port
from tests.support.ws import graphql_ws

MAX_BODY = 100_000


async def test_a_websocket_message_over_the_body_limit_closes_the_connection(
    tmp_path: Path,
) -> None:
    env = embedded_serve_env(
        tmp_path,
        free_port(),
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


async def test_a_request_head_that_never_ends_is_answered_408(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_serve_env(
        tmp_path,
        port,
        request_read_timeout_seconds="1",
    )
    async with running_stockql("serve", env, directory=tmp_path):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: test\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 5
