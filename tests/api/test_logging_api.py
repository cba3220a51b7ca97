"""The logs of a real `stockql serve` through the whole auth flow: one JSON object per line,
request and websocket operation ids bound, and no password, token or password hash anywhere.

The server logs at debug level, where libraries say the most (SQL parameters, websocket
frames): what is safe there is safe at info."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.support.accounts import LOGIN, REGISTER, bearer
from tests.support.graphql import data
from tests.support.processes import StockqlProcess, running_stockql, stockql_env
from tests.support.server import free_port
from tests.support.waiting import eventually
from tests.support.ws import graphql_ws

PASSWORD = "first secret phrase 41"
NEW_PASSWORD = "second secret phrase 42"
WRONG_PASSWORD = "wrong secret phrase 43"
EMAIL = "ada@example.com"
ME = "{ me { id email } }"
CHANGE_PASSWORD = """
mutation Change($input: UpdateProfileInput!) {
  updateProfile(input: $input) { __typename ... on User { id } }
}
"""
NOTIFICATIONS = "subscription Inbox { userNotifications { type message } }"


def password_hash(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        (stored,) = connection.execute(
            "SELECT password_hash FROM users WHERE email = ?", (EMAIL,)
        ).fetchone()
    assert isinstance(stored, str)
    assert stored.startswith("$argon2")
    return stored


async def sign_in(server: StockqlProcess, password: str) -> dict[str, Any]:
    body = await server.graphql(LOGIN, {"input": {"email": EMAIL, "password": password}})
    login: dict[str, Any] = data(body)["login"]
    return login


def json_lines(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


async def test_the_auth_flow_logs_json_with_request_ids_and_never_a_secret(
    tmp_path: Path,
) -> None:
    database = tmp_path / "stockql.db"
    env = stockql_env(
        database_url=f"sqlite+aiosqlite:///{database}",
        port=str(free_port()),
        migrate_on_start="true",
        log_level="debug",
        log_format="json",
    )
    secrets: list[str] = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD]
    async with running_stockql("serve", env, directory=tmp_path) as server:
        body = await server.graphql(
            REGISTER, {"input": {"name": "Ada", "email": EMAIL, "password": PASSWORD}}
        )
        registered = data(body)["register"]
        assert registered["__typename"] == "AuthPayload", registered
        secrets += [registered["token"], password_hash(database)]

        assert server.client is not None
        response = await server.client.post(
            "/graphql",
            json={"query": ME},
            headers={**bearer(registered["token"]), "x-request-id": "trace-me-1"},
        )
        assert response.json()["data"]["me"]["email"] == EMAIL
        assert response.headers["x-request-id"] == "trace-me-1"

        assert (await sign_in(server, WRONG_PASSWORD))["__typename"] == "InvalidCredentialsError"
        signed_in = await sign_in(server, PASSWORD)
        assert signed_in["__typename"] == "AuthPayload", signed_in
        token = signed_in["token"]
        secrets.append(token)

        async with graphql_ws(server.base_url) as ws:
            assert (await ws.init({"authToken": token}))["type"] == "connection_ack"
            inbox = await ws.subscribe(NOTIFICATIONS)

            async def operation_started() -> bool:
                return '"operation_id"' in server.output()

            await eventually(operation_started)
            body = await server.graphql(
                CHANGE_PASSWORD,
                {"input": {"password": NEW_PASSWORD, "currentPassword": PASSWORD}},
                token=token,
            )
            assert data(body)["updateProfile"]["__typename"] == "User"
            notification = await ws.next_payload(inbox)
            assert notification["data"]["userNotifications"]["type"] == "ACCOUNT_UPDATE"
            await ws.stop(inbox)

            async def operation_ended() -> bool:
                return "websocket operation ended" in server.output()

            await eventually(operation_ended)
        secrets.append(password_hash(database))
        output = server.output()

    for secret in secrets:
        assert secret not in output, f"a secret ({secret[:6]}...) was logged"
    for jwt in (registered["token"], token):
        # Truncated text (websocket frames) could show part of a token: its signature's end.
        assert jwt.split(".")[2][-12:] not in output, "part of a token was logged"
    lines = json_lines(output)
    for line in lines:
        assert {"timestamp", "level", "logger", "event"} <= line.keys(), line

    requests = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(requests) >= 6, requests
    assert all(line.get("request_id") for line in requests), requests
    assert len({line["request_id"] for line in requests}) == len(requests)
    assert any(line["request_id"] == "trace-me-1" for line in requests)

    operation_lines = [line for line in lines if line["logger"] == "app.websocket_handlers"]
    assert [line["event"] for line in operation_lines] == [
        "websocket operation started",
        "websocket operation ended",
    ]
    assert [line.get("operation_id") for line in operation_lines] == [inbox, inbox]
    assert all(line.get("connection_id") for line in operation_lines)
