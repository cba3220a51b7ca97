"""Login throttling through the API on PostgreSQL + Redis (addresses as a trusted proxy
reports them): an attacker's wrong passwords slow the attacker, never lock the owner out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import api_settings
from tests.support.accounts import LOGIN, PASSWORD, signed_up, unique_email
from tests.support.graphql import data
from tests.support.server import RunningServer, running_server

ATTACKER, OWNER, TRAVELLING = "203.0.113.66", "198.51.100.7", "192.0.2.44"


@pytest.fixture(params=[60.0])
async def server(
    pg_url: str, redis_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[RunningServer]:
    """The first wait is `request.param` seconds (a minute: no test outlasts it)."""
    settings = api_settings(
        database_url=pg_url,
        redis_url=redis_url,
        trust_forwarded_for=True,
        login_free_failures=2,
        login_backoff_base_seconds=request.param,
        login_addresses_per_email=3,
    )
    async with running_server(settings) as running:
        yield running


async def login(server: RunningServer, email: str, password: str, address: str) -> dict[str, Any]:
    body = await server.graphql(
        LOGIN,
        {"input": {"email": email, "password": password}},
        headers={"x-forwarded-for": address},
    )
    result: dict[str, Any] = data(body)["login"]
    return result


async def test_wrong_passwords_slow_the_attackers_address_not_the_owner(
    server: RunningServer,
) -> None:
    email = unique_email()
    await signed_up(server, email=email)
    results = [await login(server, email, "wrong password!", ATTACKER) for _ in range(10)]
    kinds = [result["__typename"] for result in results]
    # Two free failures, the third starts the back-off: then the attacker waits.
    assert kinds == ["InvalidCredentialsError"] * 3 + ["RateLimitedError"] * 7
    # Even with the right password, from the attacker's address.
    assert (await login(server, email, PASSWORD, ATTACKER))["__typename"] == "RateLimitedError"
    # The owner signs in, from any address.
    assert (await login(server, email, PASSWORD, OWNER))["__typename"] == "AuthPayload"
    assert (await login(server, email, PASSWORD, TRAVELLING))["__typename"] == "AuthPayload"


@pytest.mark.parametrize("server", [2.0], indirect=True)
async def test_each_further_failure_doubles_the_wait(server: RunningServer) -> None:
    email = unique_email()
    for _ in range(3):
        await login(server, email, "wrong password!", ATTACKER)
    first = await login(server, email, "wrong password!", ATTACKER)
    assert (first["__typename"], first["retryAfterSeconds"]) == ("RateLimitedError", 2)
    await asyncio.sleep(2.1)
    assert (await login(server, email, "wrong password!", ATTACKER))["__typename"] == (
        "InvalidCredentialsError"
    )
    second = await login(server, email, "wrong password!", ATTACKER)
    assert (second["__typename"], second["retryAfterSeconds"]) == ("RateLimitedError", 4)


async def test_many_failing_addresses_refuse_new_ones_but_not_an_address_that_signed_in(
    server: RunningServer,
) -> None:
    email = unique_email()
    await signed_up(server, email=email)
    assert (await login(server, email, PASSWORD, OWNER))["__typename"] == "AuthPayload"
    for bot in range(3):
        await login(server, email, "wrong password!", f"10.9.0.{bot}")
    refused = await login(server, email, PASSWORD, TRAVELLING)
    assert refused["__typename"] == "RateLimitedError"
    assert (await login(server, email, PASSWORD, OWNER))["__typename"] == "AuthPayload"
