"""Signing out through the API on PostgreSQL + Redis: logout revokes one token,
logoutEverywhere and a password change every one, at once; open websockets signed in with a
token that expired or was revoked are closed with 4401."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from jose import jwt
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import TEST_JWT_SECRET, api_settings
from tests.support.accounts import LOGIN, PASSWORD, bearer, signed_up
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer, running_server
from tests.support.ws import LEGACY_WS, TRANSPORT_WS, GraphQLWebSocket, graphql_ws

ME = "{ me { id } }"
LOGOUT = "mutation { logout }"
LOGOUT_EVERYWHERE = "mutation { logoutEverywhere }"
CHANGE_PASSWORD = """
mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { __typename } }
"""
NOTIFICATIONS = "subscription { userNotifications { type } }"
WATCH_EVERY = 0.5


@pytest.fixture
async def server(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=pg_url, redis_url=redis_url, ws_token_check_seconds=WATCH_EVERY
    )
    async with running_server(settings) as running:
        yield running


async def second_token(server: RunningServer, email: str) -> str:
    body = await server.graphql(LOGIN, {"input": {"email": email, "password": PASSWORD}})
    token: str = data(body)["login"]["token"]
    return token


async def signed_in(server: RunningServer, token: str) -> bool:
    body = await server.graphql(ME, headers=bearer(token))
    if "errors" in body:
        assert error_code(body) == "UNAUTHENTICATED", body
        return False
    return data(body)["me"] is not None


async def closed_with(ws: GraphQLWebSocket, *, within: float) -> int | None:
    """The close code of a connection that the server closes within `within` seconds."""
    try:
        while True:
            await ws.receive(within=within)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_logout_revokes_that_token_only(server: RunningServer) -> None:
    token, user = await signed_up(server)
    other = await second_token(server, user["email"])
    assert data(await server.graphql(LOGOUT, headers=bearer(token)))["logout"] is True
    assert not await signed_in(server, token)
    assert await signed_in(server, other)
    # Signing out twice: the token is no longer valid.
    assert error_code(await server.graphql(LOGOUT, headers=bearer(token))) == "UNAUTHENTICATED"


async def test_logout_everywhere_revokes_every_token_but_new_ones_work(
    server: RunningServer,
) -> None:
    token, user = await signed_up(server)
    other = await second_token(server, user["email"])
    body = await server.graphql(LOGOUT_EVERYWHERE, headers=bearer(other))
    assert data(body)["logoutEverywhere"] is True
    assert not await signed_in(server, token)
    assert not await signed_in(server, other)
    assert await signed_in(server, await second_token(server, user["email"]))


async def test_a_password_change_revokes_every_token(server: RunningServer) -> None:
    token, user = await signed_up(server)
    other = await second_token(server, user["email"])
    change: dict[str, object] = {
        "input": {"password": "a brand new secret", "currentPassword": PASSWORD}
    }
    body = await server.graphql(CHANGE_PASSWORD, change, headers=bearer(token))
    assert data(body)["updateProfile"]["__typename"] == "User"
    assert not await signed_in(server, token)
    assert not await signed_in(server, other)


async def test_no_token_is_null_for_me_and_a_revoked_one_unauthenticated(
    server: RunningServer,
) -> None:
    assert data(await server.graphql(ME))["me"] is None
    token, _ = await signed_up(server)
    await server.graphql(LOGOUT, headers=bearer(token))
    assert error_code(await server.graphql(ME, headers=bearer(token))) == "UNAUTHENTICATED"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_revoked_tokens_open_websocket_is_closed_with_4401(
    server: RunningServer, protocol: str
) -> None:
    token, _ = await signed_up(server)
    async with graphql_ws(server.base_url, protocol=protocol) as ws:
        assert (await ws.init({"authToken": token}))["type"] == "connection_ack"
        await ws.subscribe(NOTIFICATIONS)
        await asyncio.sleep(0.2)
        await server.graphql(LOGOUT_EVERYWHERE, headers=bearer(token))
        assert await closed_with(ws, within=WATCH_EVERY * 6) == 4401


async def test_an_operation_after_the_revocation_closes_the_websocket_at_once(
    pg_url: str, redis_url: str
) -> None:
    settings = api_settings(database_url=pg_url, redis_url=redis_url, ws_token_check_seconds=600)
    async with running_server(settings) as server:
        token, _ = await signed_up(server)
        async with graphql_ws(server.base_url) as ws:
            assert (await ws.init({"authToken": token}))["type"] == "connection_ack"
            await server.graphql(LOGOUT, headers=bearer(token))
            await ws.subscribe(NOTIFICATIONS)
            assert await closed_with(ws, within=5) == 4401


async def test_an_open_websocket_is_closed_with_4401_when_its_token_expires(
    pg_url: str, redis_url: str
) -> None:
    # The watch's own period is far longer: only the expiry can close the connection.
    settings = api_settings(database_url=pg_url, redis_url=redis_url, ws_token_check_seconds=600)
    async with running_server(settings) as server:
        _, user = await signed_up(server)
        now = int(time.time())
        claims = {"sub": user["id"], "role": "USER", "iat": now, "exp": now + 3, "gen": 0}
        token = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
        async with graphql_ws(server.base_url) as ws:
            assert (await ws.init({"authToken": token}))["type"] == "connection_ack"
            await ws.subscribe(NOTIFICATIONS)
            assert await closed_with(ws, within=10) == 4401
