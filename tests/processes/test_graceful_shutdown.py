"""Graceful shutdown of real `stockql serve` and `stockql worker` processes on SIGTERM/SIGINT:
requests in flight finish (those still running at STOCKQL_SHUTDOWN_TIMEOUT_SECONDS get 503),
websockets are closed with 1001, new connections are refused, the process exits 0 within
that timeout, and a worker frees its leadership.

The request kept in flight is a client uploading its body slowly: the server has started it
and must wait for the rest, for as long as the test decides."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from app.leader import LEADER_KEY
from app.shutdown import GOING_AWAY, GOING_AWAY_REASON
from tests.support.processes import (
    StockqlProcess,
    running_stockql,
    stockql_env,
    throwaway_redis,
)
from tests.support.server import free_port
from tests.support.services import postgres_database
from tests.support.waiting import eventually
from tests.support.ws import GraphQLWebSocket, graphql_ws

STOCK_PRICE = 'subscription { stockPrice(symbol: "AAPL") { symbol price } }'
SYMBOLS_BODY = orjson.dumps({"query": "{ symbols }"})
# What a worker logs when it becomes the leader (app/leader.py).
LEADS = "is now the leader"
# Bounds for a loaded 2-core machine; the behaviour itself takes well under a second.
REACTS_WITHIN = 10.0
EXITS_WITHIN = 15.0


class SlowUpload:
    """A POST /graphql on its own connection whose body arrives when the test sends it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def start(cls, port: int, body: bytes, *, sent_first: int) -> SlowUpload:
        """Send the headers and the first `sent_first` bytes of `body`."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body[:sent_first])
        await writer.drain()
        return cls(reader, writer)

    async def finish(self, rest: bytes) -> tuple[int, bytes]:
        """Send the rest of the body; returns the status and body of the answer."""
        self._writer.write(rest)
        await self._writer.drain()
        answer = await asyncio.wait_for(self._reader.read(), REACTS_WITHIN)  # until closed
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    async def answer_or_end(self) -> bytes:
        """Whatever the server sends before it closes the connection."""
        return await asyncio.wait_for(self._reader.read(), EXITS_WITHIN)

    async def close(self) -> None:
        self._writer.close()
        await asyncio.gather(self._writer.wait_closed(), return_exceptions=True)


@asynccontextmanager
async def slow_upload(port: int, body: bytes, *, sent_first: int) -> AsyncIterator[SlowUpload]:
    upload = await SlowUpload.start(port, body, sent_first=sent_first)
    try:
        yield upload
    finally:
        await upload.close()


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


def production_server_env(database_url: str, **values: str) -> dict[str, str]:
    """A production server on PostgreSQL that runs the simulator's price jobs itself, so its
    subscribers get prices without a Redis or a worker."""
    return stockql_env(
        env="production",
        database_url=database_url,
        port=str(free_port()),
        migrate_on_start="true",
        worker_in_process="true",
        log_level="info",
        **values,
    )


async def refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def exit_status(running: StockqlProcess, *, within: float) -> int:
    try:
        return await asyncio.wait_for(running.process.wait(), within)
    except TimeoutError:
        raise AssertionError(f"`stockql {running.command}` still runs {within} s later") from None


async def close_frame(ws: GraphQLWebSocket) -> Close | None:
    """Read (and drop) messages until the server closes the connection; its close frame."""
    try:
        while True:
            await ws.receive(within=REACTS_WITHIN)
    except ConnectionClosed as closed:
        return closed.rcvd


def port_of(running: StockqlProcess) -> int:
    return int(running.base_url.rsplit(":", 1)[1])


async def test_sigterm_finishes_requests_closes_websockets_with_1001_and_exits_0(
    tmp_path: Path, database_url: str
) -> None:
    env = production_server_env(database_url, shutdown_timeout_seconds="30")
    async with running_stockql("serve", env, directory=tmp_path) as server:
        port = port_of(server)
        async with (
            graphql_ws(server.base_url) as subscriber,
            slow_upload(port, SYMBOLS_BODY, sent_first=10) as upload,
        ):
            assert (await subscriber.init())["type"] == "connection_ack"
            operation = await subscriber.subscribe(STOCK_PRICE)
            first = await subscriber.next_payload(operation, within=REACTS_WITHIN)
            assert first["data"]["stockPrice"]["symbol"] == "AAPL"
            # uvicorn abandons a connection whose request it has not begun to read: give it
            # the time to read the headers already sent.
            await asyncio.sleep(1.0)

            server.process.send_signal(signal.SIGTERM)

            close = await close_frame(subscriber)
            assert close is not None, "no close frame from the server"
            assert (close.code, close.reason) == (GOING_AWAY, GOING_AWAY_REASON)

            await eventually(lambda: refuses_connections(port), within=REACTS_WITHIN)
            assert server.process.returncode is None, "exited before its request was done"

            status, body = await upload.finish(SYMBOLS_BODY[10:])
            assert status == 200, body
            assert orjson.loads(body) == {"data": {"symbols": ["AAPL", "MSFT"]}}

        assert await exit_status(server, within=EXITS_WITHIN) == 0


async def test_sigint_cuts_off_a_request_after_the_shutdown_timeout_and_exits_0(
    tmp_path: Path, database_url: str
) -> None:
    timeout = 3
    env = production_server_env(database_url, shutdown_timeout_seconds=str(timeout))
    async with (
        running_stockql("serve", env, directory=tmp_path) as server,
        slow_upload(port_of(server), SYMBOLS_BODY, sent_first=10) as upload,
    ):
        await asyncio.sleep(1.0)  # the headers are read (see above)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        # The body never completes: the server gives up on it after the timeout, telling the
        # client to try again (elsewhere) rather than that the server failed.
        answer = await upload.answer_or_end()
        waited = time.monotonic() - signalled
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 503 "), answer
        assert b"\r\nretry-after: 1" in head
        assert await exit_status(server, within=EXITS_WITHIN) == 0
        assert waited >= timeout - 0.5, f"cut off after {waited:.1f} s, before the timeout"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stopped_worker_frees_its_leadership_at_once(
    tmp_path: Path, database_url: str, stop: signal.Signals
) -> None:
    async with throwaway_redis(tmp_path) as redis_server:
        env = stockql_env(
            database_url=database_url,
            redis_url=redis_server.url,
            migrate_on_start="true",
            log_level="info",
        )
        client = aioredis.from_url(redis_server.url)
        try:
            async with running_stockql("worker", env, directory=tmp_path) as worker:
                await eventually(lambda: LEADS in worker.output(), within=REACTS_WITHIN)
                lease_left_ms = await client.pttl(LEADER_KEY)
                assert lease_left_ms > 0, "the leader holds no key"
                signalled = time.monotonic()
                worker.process.send_signal(stop)
                assert await exit_status(worker, within=EXITS_WITHIN) == 0
                gone_after = time.monotonic() - signalled
                assert await client.exists(LEADER_KEY) == 0
                # Otherwise the key might merely have expired.
                assert gone_after * 1000 < lease_left_ms, f"exit took {gone_after:.1f} s"
        finally:
            await client.aclose()
