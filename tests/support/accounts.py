"""Account helpers for API tests: sign up, sign in, and an admin made through the domain."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.graphql import data
from tests.support.server import RunningServer

PASSWORD = "correct horse battery"

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on AuthPayload { token expiresAt user { id name email role createdAt watchlist } }
    ... on EmailTakenError { message email }
    ... on ValidationError { message fields { field message code } }
    ... on RateLimitedError { message retryAfterSeconds }
  }
}
"""

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    __typename
    ... on AuthPayload { token expiresAt user { id email role } }
    ... on InvalidCredentialsError { message }
    ... on ValidationError { message fields { field message code } }
    ... on RateLimitedError { message retryAfterSeconds }
  }
}
"""

_numbers = itertools.count(1)


def unique_email() -> str:
    return f"user{next(_numbers)}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def register(
    server: RunningServer,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    name: str = "Ada",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The `register` result (any union member)."""
    body = await server.graphql(
        REGISTER,
        {"input": {"name": name, "email": email or unique_email(), "password": password}},
        headers=headers,
    )
    result: dict[str, Any] = data(body)["register"]
    return result


async def signed_up(
    server: RunningServer, *, email: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Register a new user; returns its token and user."""
    result = await register(server, email=email)
    assert result["__typename"] == "AuthPayload", result
    return result["token"], result["user"]


async def admin_token(server: RunningServer) -> str:
    """Create an ADMIN through the domain service (as `stockql users create-admin` does)
    and sign in through the API."""
    email = unique_email()
    accounts = server.app.state.runtime.services.accounts
    await accounts.create_admin(name="Admin", email=email, password=PASSWORD)
    body = await server.graphql(LOGIN, {"input": {"email": email, "password": PASSWORD}})
    login = data(body)["login"]
    assert login["__typename"] == "AuthPayload", login
    token: str = login["token"]
    return token
