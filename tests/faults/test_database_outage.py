"""PostgreSQL going away under a running `stockql serve`: a cluster of the test's own
(tests/support/throwaway_postgres.py) is stopped for real (`pg_ctl stop -m fast`, every
session ended, new ones refused) and started again, while the server keeps running."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from typing import Any

import pytest

from app.adapters.sql.database import CONNECT_TIMEOUT_SECONDS, create_engine, ping
from domain.errors import DatabaseUnavailable
from tests.support.accounts import LOGIN, PASSWORD, REGISTER, unique_email
from tests.support.graphql import data, error_code
from tests.support.processes import StockqlProcess, running_stockql, stockql_env
from tests.support.server import free_port
from tests.support.throwaway_postgres import ThrowawayPostgres, throwaway_postgres
from tests.support.waiting import eventually

# Start-up of the server (imports, migrations) on a busy 2-core machine, plus the outages.
pytestmark = pytest.mark.timeout(300)

ME = "{ me { id name } }"
NOTIFICATIONS = "{ notifications { id type } }"
HISTORY = "query($symbol: String!) { history(symbol: $symbol, limit: 3) { bars { close } } }"
LATEST_PRICE = "query($symbol: String!) { latestPrice(symbol: $symbol) { price } }"
UPDATE_PROFILE = """
mutation($name: String!) { updateProfile(input: {name: $name}) { __typename ... on User { name } } }
"""
CREATE_ALERT = """
mutation {
  createAlert(input: {symbol: "AAPL", condition: PRICE_ABOVE, threshold: 1000}) { __typename }
}
"""
# Connections are refused at once while the server is down: anything near this is a hang.
ANSWER_WITHIN = 5.0
# The "recovers by itself within a few seconds", with room for a loaded machine.
RECOVERY = 10.0
# The server's pool: 10 connections kept and 10 more in bursts (app/adapters/sql/database.py).
POOL_FILL = 20


@dataclass
class Deployment:
    postgres: ThrowawayPostgres
    server: StockqlProcess


@pytest.fixture(scope="module")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    """One server (its jobs inside, on the simulator) on a throwaway cluster it migrated."""
    directory = tmp_path_factory.mktemp("database-outage")
    async with throwaway_postgres() as postgres:
        env = stockql_env(
            database_url=postgres.url,
            port=str(free_port()),
            migrate_on_start="true",
            worker_in_process="true",
        )
        async with running_stockql("serve", env, directory=directory) as server:
            yield Deployment(postgres, server)


@asynccontextmanager
async def postgres_stopped(deployment: Deployment) -> AsyncIterator[None]:
    """`pg_ctl stop -m fast` for the block; started again on the way out, whatever happens
    (the server is not waited for)."""
    await deployment.postgres.stop()
    try:
        yield
    finally:
        await deployment.postgres.start()


async def ready(server: StockqlProcess) -> None:
    async def answers_ready() -> bool:
        assert server.client is not None
        return (await server.client.get("/readyz")).status_code == 200

    await eventually(answers_ready, within=RECOVERY, every=0.2)


def registration(email: str) -> dict[str, Any]:
    return {"input": {"name": "Ada", "email": email, "password": PASSWORD}}


async def signed_up(server: StockqlProcess, email: str | None = None) -> dict[str, Any]:
    """The `register` result for a new user (any union member)."""
    body = await server.graphql(REGISTER, registration(email or unique_email()))
    result: dict[str, Any] = data(body)["register"]
    return result


async def all_answered(server: StockqlProcess, query: str, token: str) -> None:
    """Ask POOL_FILL times at once (as many connections as the pool opens); none may fail."""
    bodies = await asyncio.gather(*(server.graphql(query, token=token) for _ in range(POOL_FILL)))
    assert [body for body in bodies if "errors" in body] == []


async def timed(
    server: StockqlProcess, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    body = await server.graphql(query, variables, **kwargs)
    return body, time.monotonic() - started


async def test_while_postgres_is_down_database_operations_answer_upstream_unavailable_at_once(
    deployment: Deployment,
) -> None:
    server = deployment.server
    token = (await signed_up(server))["token"]
    async with postgres_stopped(deployment):
        for query, variables, bearer in [
            (ME, None, token),
            (NOTIFICATIONS, None, token),
            (HISTORY, {"symbol": "IBM"}, None),  # never fetched: it must be stored first
            (REGISTER, registration(unique_email()), None),
            (LOGIN, {"input": {"email": unique_email(), "password": PASSWORD}}, None),
            (UPDATE_PROFILE, {"name": "Renamed"}, token),
            (CREATE_ALERT, None, token),
        ]:
            body, seconds = await timed(server, query, variables, token=bearer)
            assert error_code(body) == "UPSTREAM_UNAVAILABLE", (query, body)
            assert "database is unavailable" in body["errors"][0]["message"], body
            assert seconds < ANSWER_WITHIN, (query, seconds)

        assert server.client is not None
        readiness = await server.client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["database"].startswith("unavailable"), readiness.json()
        assert (await server.client.get("/healthz")).status_code == 200
        # What needs no database still works: the simulator's quotes.
        body, seconds = await timed(server, LATEST_PRICE, {"symbol": "AAPL"})
        assert data(body)["latestPrice"]["price"] > 0
        assert seconds < ANSWER_WITHIN
    await ready(server)


async def test_after_postgres_is_back_the_server_recovers_by_itself_and_kept_nothing_that_failed(
    deployment: Deployment,
) -> None:
    server = deployment.server
    user = await signed_up(server)
    token = user["token"]
    await all_answered(server, ME, token)  # the pool holds connections the stop will end
    lost_email = unique_email()
    async with postgres_stopped(deployment):
        body = await server.graphql(UPDATE_PROFILE, {"name": "Lost"}, token=token)
        assert error_code(body) == "UPSTREAM_UNAVAILABLE"
        body = await server.graphql(REGISTER, registration(lost_email))
        assert error_code(body) == "UPSTREAM_UNAVAILABLE"
    # Within a few seconds, with no restart. Then no request fails: the pool replaces each
    # dead connection when it hands it out (its pre-ping), unseen by the request.
    started = time.monotonic()
    await ready(server)
    assert time.monotonic() - started < RECOVERY
    await all_answered(server, ME, token)
    assert server.process.returncode is None

    # The failed change left neither the new name nor its ACCOUNT_UPDATE notification.
    me = data(await server.graphql(ME, token=token))["me"]
    assert me == {"id": user["user"]["id"], "name": "Ada"}
    assert data(await server.graphql(NOTIFICATIONS, token=token))["notifications"] == []
    # The failed registration left no account: the email is unknown, then free to take.
    login = await server.graphql(LOGIN, {"input": {"email": lost_email, "password": PASSWORD}})
    assert data(login)["login"]["__typename"] == "InvalidCredentialsError"
    assert (await signed_up(server, lost_email))["__typename"] == "AuthPayload"


async def test_a_restart_between_requests_is_unseen_by_the_requests_after_it(
    deployment: Deployment,
) -> None:
    server = deployment.server
    token = (await signed_up(server))["token"]
    await all_answered(server, ME, token)
    await deployment.postgres.stop()
    await deployment.postgres.start()
    # Every pooled connection is dead now; each is replaced as it is handed out.
    await all_answered(server, ME, token)


async def test_a_database_that_accepts_connections_but_never_answers_is_unavailable_in_time() -> (
    None
):
    # A listening socket whose connections are accepted by the kernel and never answered,
    # as with a frozen server or a black-holing network path.
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/stockql")
        try:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS + 10):
                    await ping(engine)
            assert time.monotonic() - started < CONNECT_TIMEOUT_SECONDS + 3
        finally:
            await engine.dispose()
