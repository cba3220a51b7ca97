"""Slow and oversized requests over raw sockets to the real server (app/http_protocol.py): a
request is read whole within STOCKQL_REQUEST_READ_TIMEOUT_SECONDS, its head is capped at
STOCKQL_MAX_REQUEST_HEAD_BYTES, idle keep-alive connections close after
STOCKQL_KEEP_ALIVE_SECONDS, and websockets are not subject to the request deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import api_settings
from tests.support.server import RunningServer, running_server
from tests.support.ws import graphql_ws

READ_TIMEOUT = 1.0
KEEP_ALIVE = 1
HEAD_LIMIT = 8 * 1024
QUERY = b'{"query": "{ __typename }"}'


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    settings = api_settings(
        request_read_timeout_seconds=READ_TIMEOUT,
        keep_alive_seconds=KEEP_ALIVE,
        max_request_head_bytes=HEAD_LIMIT,
    )
    async with running_server(settings) as running:
        yield running


async def connection(
    server: RunningServer,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(server.base_url)
    return await asyncio.open_connection(address.hostname, address.port)


def post_head(content_length: int) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % content_length
    )


async def answer_and_close(reader: asyncio.StreamReader, *, within: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), within)


async def test_a_head_sent_a_line_at_a_time_is_answered_408_at_the_deadline(
    server: RunningServer,
) -> None:
    reader, writer = await connection(server)
    started = time.monotonic()
    writer.write(b"POST /graphql HTTP/1.1\r\nhost: test\r\n")

    async def drip() -> None:
        # A header every 0.2 s keeps the connection busy but never finishes the head.
        for number in range(50):
            await asyncio.sleep(0.2)
            if writer.is_closing():
                return
            writer.write(b"x-slow-%d: 1\r\n" % number)

    dripping = asyncio.create_task(drip())
    answer = await answer_and_close(reader, within=READ_TIMEOUT * 5)
    elapsed = time.monotonic() - started
    dripping.cancel()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert READ_TIMEOUT * 0.8 <= elapsed < READ_TIMEOUT * 3


async def test_a_body_that_stops_arriving_closes_the_connection(server: RunningServer) -> None:
    reader, writer = await connection(server)
    started = time.monotonic()
    writer.write(post_head(len(QUERY)) + QUERY[:5])
    answer = await answer_and_close(reader, within=READ_TIMEOUT * 5)
    writer.close()
    assert time.monotonic() - started < READ_TIMEOUT * 3
    # The application was already reading the body: it sees a disconnect, not a request.
    assert b"200 OK" not in answer
    body = await server.graphql("{ __typename }")
    assert body == {"data": {"__typename": "Query"}}


async def test_a_head_over_the_limit_is_answered_431(server: RunningServer) -> None:
    reader, writer = await connection(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: test\r\nx-big: " + b"a" * (HEAD_LIMIT * 2))
    answer = await answer_and_close(reader, within=READ_TIMEOUT * 3)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


async def test_a_request_in_slow_parts_within_the_deadline_is_served_and_kept_alive(
    server: RunningServer,
) -> None:
    reader, writer = await connection(server)
    for _ in range(2):  # the deadline starts again for the second request on the connection
        writer.write(post_head(len(QUERY)))
        await asyncio.sleep(READ_TIMEOUT * 0.4)
        writer.write(QUERY[:10])
        await asyncio.sleep(READ_TIMEOUT * 0.4)
        writer.write(QUERY[10:])
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status == b"HTTP/1.1 200 OK\r\n"
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.startswith(b"content-length")
        )
        assert b"Query" in await reader.readexactly(length)
    # Idle now: closed after the keep-alive time, without an answer.
    started = time.monotonic()
    assert await answer_and_close(reader, within=KEEP_ALIVE * 5) == b""
    assert time.monotonic() - started >= KEEP_ALIVE * 0.8
    writer.close()


async def test_a_quiet_websocket_outlives_the_request_deadline(server: RunningServer) -> None:
    async with graphql_ws(server.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        await asyncio.sleep(READ_TIMEOUT * 2.5)
        await ws.send({"type": "ping"})
        assert (await ws.connection.recv()) == '{"type":"pong"}'


async def test_the_rest_of_a_refused_body_is_not_taken_for_a_head(server: RunningServer) -> None:
    reader, writer = await connection(server)
    size = 1_500_000  # over STOCKQL_MAX_BODY_BYTES: answered 413 before the body is read
    writer.write(post_head(size))
    status = await asyncio.wait_for(reader.readline(), 5)
    assert status == b"HTTP/1.1 413 Request Entity Too Large\r\n"
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    for _ in range(size // 250_000):  # reads of the body after the answer, each over HEAD_LIMIT
        writer.write(b"x" * 250_000)
        await writer.drain()
        await asyncio.sleep(0.05)
    # The rest of the 413's body, then closed as an idle keep-alive connection, not a 431.
    answer = await answer_and_close(reader, within=KEEP_ALIVE * 5)
    writer.close()
    assert answer == b"Request body is larger than 1000000 bytes"
