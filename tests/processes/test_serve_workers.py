"""`stockql serve --workers N`: N processes on one port behind one parent, on a real Redis
and PostgreSQL with a real worker publishing prices; clients over HTTP and graphql-ws."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.support.accounts import PASSWORD, REGISTER, unique_email
from tests.support.graphql import data
from tests.support.processes import (
    StockqlProcess,
    run_stockql,
    running_stockql,
    running_stockqls,
    stockql_env,
    throwaway_redis,
)
from tests.support.server import free_port
from tests.support.services import postgres_database
from tests.support.socket_owners import connection_owner
from tests.support.ws import GraphQLWebSocket, graphql_ws

STOCK_PRICE = 'subscription { stockPrice(symbol: "AAPL") { symbol price } }'
ME = "query { me { email } }"
# Connections spread over two processes by the kernel's hash: all on one has odds 2^-15.
CONNECTIONS = 16


@pytest.fixture(scope="module")
async def two_workers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StockqlProcess]:
    """`serve --workers 2` (migrating PostgreSQL once, no JWT secret given) and a worker."""
    directory = tmp_path_factory.mktemp("serve-workers")
    async with (
        postgres_database() as database_url,
        throwaway_redis(directory) as redis_server,
    ):
        shared = {"database_url": database_url, "redis_url": redis_server.url}
        async with (
            running_stockql(
                "serve",
                stockql_env(
                    **shared,
                    port=str(free_port()),
                    serve_workers="2",
                    migrate_on_start="true",
                    jwt_secret="",  # unset: the parent makes one for both processes
                ),
                directory=directory,
            ) as server,
            running_stockqls(
                [("worker", stockql_env(**shared, log_level="info"))], directory=directory
            ),
        ):
            yield server


def port_of(server: StockqlProcess) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


async def owner(server: StockqlProcess, ws: GraphQLWebSocket) -> int:
    client_port = ws.connection.local_address[1]
    pid = connection_owner(port_of(server), client_port)
    assert pid is not None, f"no process holds the connection from port {client_port}"
    return pid


async def test_every_process_serves_and_receives_every_price(two_workers: StockqlProcess) -> None:
    async with AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(graphql_ws(two_workers.base_url))
            for _ in range(CONNECTIONS)
        ]
        owners = {await owner(two_workers, ws) for ws in sockets}
        assert len(owners) == 2, f"all {CONNECTIONS} connections on {owners}"
        assert two_workers.pid not in owners  # the parent only supervises

        async def first_price(ws: GraphQLWebSocket) -> dict[str, object]:
            assert (await ws.init())["type"] == "connection_ack"
            operation = await ws.subscribe(STOCK_PRICE)
            payload = await ws.next_payload(operation, within=20.0)
            assert "errors" not in payload, payload
            update: dict[str, object] = payload["data"]["stockPrice"]
            return update

        updates = await asyncio.gather(*(first_price(ws) for ws in sockets))
    assert {update["symbol"] for update in updates} == {"AAPL"}


async def test_a_token_from_one_process_is_accepted_by_the_other(
    two_workers: StockqlProcess,
) -> None:
    body = await two_workers.graphql(
        REGISTER, {"input": {"name": "Ada", "email": unique_email(), "password": PASSWORD}}
    )
    token = data(body)["register"]["token"]
    # New connections each time: they land on both processes (the kernel spreads them).
    for _ in range(12):
        response = await two_workers.client.post(  # type: ignore[union-attr]
            "/graphql",
            json={"query": ME},
            headers={"authorization": f"Bearer {token}", "connection": "close"},
        )
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()


async def test_more_than_one_process_without_redis_is_refused(tmp_path: Path) -> None:
    status, output = await run_stockql(
        ["serve", "--workers", "2"],
        stockql_env(port=str(free_port())),
        directory=tmp_path,
        within=60.0,
    )
    assert status == 2, output
    assert "--workers 2 needs STOCKQL_REDIS_URL" in output


async def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    async with throwaway_redis(tmp_path) as redis_server:
        env = stockql_env(
            port=str(free_port()),
            serve_workers="2",
            redis_url=redis_server.url,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/stockql.db",
            migrate_on_start="true",
        )
        async with running_stockql("serve", env, directory=tmp_path) as server:
            children = _server_processes(server.pid)
            assert len(children) == 2, children
            server.process.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(server.process.wait(), timeout=30)
        assert status == 0, server.output()
        assert not any(_alive(pid) for pid in children), children


def _server_processes(parent: int) -> list[int]:
    """The server processes `parent` spawned (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or "spawn_main" not in (entry / "cmdline").read_text():
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()
