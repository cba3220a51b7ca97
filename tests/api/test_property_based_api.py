"""Property-based fuzzing of every argument of every operation, through the real app.

The operations come from the schema by introspection (tests/support/graphql_fuzz.py), so a new
query, mutation, subscription or argument is fuzzed as soon as it exists. Each request is sent
signed in as a user or an admin (or anonymous), over HTTP to the app on SQLite and on
PostgreSQL + Redis, and subscriptions also over a real graphql-transport-ws websocket.
Properties: never a 5xx; a 200 carries JSON with `data` and/or `errors`; every error has an
`extensions.code` of the contract other than INTERNAL_SERVER_ERROR; no message or refusal
leaks a traceback, a file path or a Python exception class name.

Runs derandomized (the same examples every run, so a failure reproduces in CI); set
STOCKQL_HYPOTHESIS_PROFILE=explore for new random examples, more of them, saved in .hypothesis/.
Hypothesis prints the falsifying example; the assertion message shows the request and answer.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import fuzz_settings
from tests.support.accounts import admin_token, signed_up
from tests.support.graphql_fuzz import Operation, Request, introspected_schema, operations, requests
from tests.support.server import RunningServer, running_server
from tests.support.services import postgres_database, redis_database
from tests.support.ws import graphql_ws

CONTRACT_CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "UPSTREAM_UNAVAILABLE",
    "QUERY_TOO_EXPENSIVE",
}
EXCEPTION_NAMES = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
} | {
    # What the adapters' libraries raise (SQLAlchemy, asyncpg, redis, strawberry); not
    # pydantic's ValidationError, a name the schema's own error type shares.
    "IntegrityError", "OperationalError", "ProgrammingError", "DataError", "DBAPIError",
    "StatementError", "InterfaceError", "PostgresError", "RedisError", "ResponseError",
    "StrawberryGraphQLError", "CannotGetOperationTypeError", "InvalidOperationTypeError",
}  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
LEAKS = re.compile(
    "|".join(
        [
            "Traceback",
            'File "',
            r"\.py\b",
            "site-packages",
            re.escape(str(ROOT)),
            re.escape(sys.prefix),
            *(rf"\b{name}\b" for name in sorted(EXCEPTION_NAMES)),
        ]
    )
)
PROFILES = {
    "ci": settings(
        max_examples=10,
        derandomize=True,
        database=None,
        deadline=timedelta(seconds=20),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    ),
    "explore": settings(
        max_examples=100,
        deadline=timedelta(seconds=20),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    ),
}
FUZZ = PROFILES[os.environ.get("STOCKQL_HYPOTHESIS_PROFILE", "ci")]
WEBSOCKET_FUZZ = settings(FUZZ, max_examples=max(3, FUZZ.max_examples // 3))
# How long a subscription is watched for a first message (a live one may have none yet).
FIRST_MESSAGE_WITHIN = 0.5

# Signing out revokes the shared identities' tokens, so every later case would be refused (a
# websocket closed with 4403): both take no arguments and tests/api/test_logout_api.py covers them.
REVOKES_THE_CALLERS_TOKENS = frozenset({"logout", "logoutEverywhere"})
OPERATIONS = [
    operation
    for operation in operations(introspected_schema())
    if operation.field_name not in REVOKES_THE_CALLERS_TOKENS
]
SUBSCRIPTIONS = [operation for operation in OPERATIONS if operation.kind == "subscription"]


@dataclass
class Target:
    """A running app and who may call it."""

    server: RunningServer
    tokens: dict[str, str | None]  # "user", "admin", "anonymous"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    """The app on SQLite, or on PostgreSQL + Redis; one user and one admin for the module."""
    if request.param == "sqlite":
        directory = tmp_path_factory.mktemp("fuzz")
        url = f"sqlite+aiosqlite:///{directory / 'stockql.db'}"
        async with running_server(fuzz_settings(database_url=url)) as server:
            yield await _signed_in(server)
        return
    async with postgres_database() as pg_url, redis_database() as redis_url:
        settings_ = fuzz_settings(database_url=pg_url, redis_url=redis_url)
        async with running_server(settings_) as server:
            yield await _signed_in(server)


async def _signed_in(server: RunningServer) -> Target:
    user, _ = await signed_up(server)
    return Target(server, {"user": user, "admin": await admin_token(server), "anonymous": None})


# Mostly a plain user: most operations need one, and admins are few.
WHO = st.sampled_from(("user", "user", "admin", "anonymous"))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
@FUZZ
@given(data=st.data())
async def test_no_argument_makes_an_operation_fail_with_a_server_error(
    target: Target, operation: Operation, data: st.DataObject
) -> None:
    request = data.draw(requests(operation), label="request")
    token = target.tokens[data.draw(WHO, label="signed in as")]
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await target.server.client.post(
        "/graphql", content=request.body().encode(), headers=headers
    )
    check_http_answer(request, response)


@pytest.mark.parametrize("operation", SUBSCRIPTIONS, ids=lambda operation: operation.name)
@WEBSOCKET_FUZZ
@given(data=st.data())
async def test_no_argument_makes_a_subscription_fail_with_a_server_error(
    target: Target, operation: Operation, data: st.DataObject
) -> None:
    request = data.draw(requests(operation).filter(_fits_a_websocket), label="request")
    token = target.tokens[data.draw(WHO, label="signed in as")]
    async with graphql_ws(target.server.base_url) as ws:
        ack = await ws.init({"authToken": token} if token else {})
        assert ack["type"] == "connection_ack", ack
        operation_id = await ws.subscribe(request.query, request.variables)
        try:
            message = await ws.receive(within=FIRST_MESSAGE_WITHIN)
        except TimeoutError:
            return  # subscribed and waiting for events: nothing went wrong
    assert message.get("id") == operation_id, message
    assert message["type"] in ("next", "error", "complete"), message
    if message["type"] == "error":
        errors = message["payload"]
        check_errors(request, errors if isinstance(errors, list) else [errors])
    elif message["type"] == "next":
        check_errors(request, message["payload"].get("errors") or [])


def check_http_answer(request: Request, response: httpx.Response) -> None:
    shown = (
        f"{request.form} request {request.body()[:2000]}\n"
        f"-> {response.status_code} {response.text[:2000]}"
    )
    assert response.status_code < 500, shown
    if response.status_code != 200:
        # Refused before GraphQL (invalid JSON, body too large, a subscription over plain
        # HTTP): a short reason, which must leak nothing either.
        assert not LEAKS.search(_without(response.text, request.sent_strings())), shown
        return
    body = orjson.loads(response.content)
    assert isinstance(body, dict), shown
    assert "data" in body or "errors" in body, shown
    check_errors(request, body.get("errors") or [], shown=shown)


def check_errors(request: Request, errors: list[dict[str, Any]], *, shown: str = "") -> None:
    shown = (
        shown or f"{request.form} request {request.query[:1000]} {str(request.variables)[:1000]}"
    )
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert code in CONTRACT_CODES, f"error {error} for {shown}"
        message = _without(str(error.get("message", "")), request.sent_strings())
        assert not LEAKS.search(message), f"error {error} for {shown}"


def _without(text: str, sent: Iterable[str]) -> str:
    """The text without what the client sent (messages may quote the bad value)."""
    for value in sorted(sent, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "").replace(orjson.dumps(value).decode()[1:-1], "")
    return text


def _fits_a_websocket(request: Request) -> bool:
    """Only what the test client can send: valid JSON (no NaN) that orjson encodes (no
    integer past 64 bits); the HTTP test covers the rest."""
    body = request.body()
    if "NaN" in body or "Infinity" in body:
        return False
    try:
        orjson.dumps(request.variables)
    except TypeError:
        return False
    return True
