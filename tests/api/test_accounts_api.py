"""Accounts through HTTP: register, login, me, profile, watchlist, roles (PostgreSQL, Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.adapters.symbol_directory import SymbolDirectory
from tests.api.conftest import api_settings
from tests.support.accounts import (
    LOGIN,
    PASSWORD,
    admin_token,
    bearer,
    register,
    signed_up,
    unique_email,
)
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer, running_server

ME = "{ me { id name email role createdAt watchlist } }"

UPDATE_PROFILE = """
mutation Update($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    __typename
    ... on User { id name email }
    ... on EmailTakenError { email }
    ... on InvalidCredentialsError { message }
    ... on ValidationError { fields { field code } }
  }
}
"""

REGISTER_WITH_REASONS = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on ValidationError { fields { field code message } }
  }
}
"""

ADD = "mutation($s: String!) { addToWatchlist(symbol: $s) { watchlist } }"
REMOVE = "mutation($s: String!) { removeFromWatchlist(symbol: $s) { watchlist } }"
CLEAR_CACHE = "mutation { clearCache { symbols keysRemoved } }"


async def login(server: RunningServer, email: str, password: str) -> dict[str, Any]:
    body = await server.graphql(LOGIN, {"input": {"email": email, "password": password}})
    result: dict[str, Any] = data(body)["login"]
    return result


async def update(server: RunningServer, token: str, **fields: str) -> dict[str, Any]:
    body = await server.graphql(UPDATE_PROFILE, {"input": fields}, headers=bearer(token))
    result: dict[str, Any] = data(body)["updateProfile"]
    return result


async def test_register_signs_the_user_in(server: RunningServer) -> None:
    email = unique_email()
    result = await register(server, email=email, name="  Ada   Lovelace ")
    assert result["__typename"] == "AuthPayload"
    user = result["user"]
    assert (user["name"], user["email"], user["role"], user["watchlist"]) == (
        "Ada Lovelace",
        email,
        "USER",
        [],
    )
    assert user["createdAt"].endswith("Z")
    me = data(await server.graphql(ME, headers=bearer(result["token"])))["me"]
    assert me == user


async def test_me_is_null_without_a_token(server: RunningServer) -> None:
    assert data(await server.graphql(ME))["me"] is None


async def test_an_email_differing_only_in_case_is_taken(server: RunningServer) -> None:
    await signed_up(server, email="Grace@Example.com")
    result = await register(server, email="grace@EXAMPLE.com")
    assert result["__typename"] == "EmailTakenError"


@pytest.mark.parametrize(
    ("name", "email", "password", "fields"),
    [
        ("Ada", "not-an-email", PASSWORD, ["email"]),
        ("", "ok@example.com", PASSWORD, ["name"]),
        ("x" * 101, "ok@example.com", PASSWORD, ["name"]),
        ("Ada", "ok@example.com", "short", ["password"]),
        ("Ada", "ok@example.com", "p" * 129, ["password"]),
        ("Ada", "same.as.email@example.com", "Same.As.Email@example.com", ["password"]),
        ("", "bad", "x", ["name", "email", "password"]),
    ],
)
async def test_invalid_registrations_name_every_bad_field_and_store_nothing(
    server: RunningServer, name: str, email: str, password: str, fields: list[str]
) -> None:
    result = await register(server, name=name, email=email, password=password)
    assert result["__typename"] == "ValidationError"
    assert [field["field"] for field in result["fields"]] == fields
    assert (await login(server, email, password))["__typename"] != "AuthPayload"


async def test_login_with_the_right_password_issues_a_working_token(server: RunningServer) -> None:
    email = unique_email()
    _, user = await signed_up(server, email=email)
    result = await login(server, email.upper(), PASSWORD)
    assert result["__typename"] == "AuthPayload"
    assert result["user"]["id"] == user["id"]
    me = data(await server.graphql(ME, headers=bearer(result["token"])))["me"]
    assert me["id"] == user["id"]


async def test_wrong_password_and_unknown_email_get_the_same_answer(server: RunningServer) -> None:
    email = unique_email()
    await signed_up(server, email=email)
    wrong = await login(server, email, "wrong password!")
    unknown = await login(server, unique_email(), PASSWORD)
    assert (
        wrong
        == unknown
        == {
            "__typename": "InvalidCredentialsError",
            "message": "The email or password is wrong",
        }
    )


async def test_update_name_needs_no_current_password(server: RunningServer) -> None:
    token, user = await signed_up(server)
    updated = await update(server, token, name="Countess")
    assert updated == {
        "__typename": "User",
        "id": user["id"],
        "name": "Countess",
        "email": user["email"],
    }


async def test_changing_email_or_password_needs_the_current_password(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    for change in ({"email": unique_email()}, {"password": "a new password"}):
        result = await update(server, token, **change)
        assert result["__typename"] == "ValidationError"
        assert result["fields"] == [{"field": "currentPassword", "code": "REQUIRED"}]


async def test_a_wrong_current_password_changes_nothing(server: RunningServer) -> None:
    email = unique_email()
    token, _ = await signed_up(server, email=email)
    result = await update(
        server, token, name="Changed", email=unique_email(), currentPassword="not it at all"
    )
    assert result["__typename"] == "InvalidCredentialsError"
    me = data(await server.graphql(ME, headers=bearer(token)))["me"]
    assert (me["name"], me["email"]) == ("Ada", email)


async def test_password_and_email_change_with_the_current_password(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    new_email = unique_email()
    result = await update(
        server, token, email=new_email, password="brand new secret", currentPassword=PASSWORD
    )
    assert result["email"] == new_email
    assert (await login(server, new_email, PASSWORD))["__typename"] == "InvalidCredentialsError"
    assert (await login(server, new_email, "brand new secret"))["__typename"] == "AuthPayload"


@pytest.mark.parametrize("password", ["password", "Password1", "12345678", "qwertyuiop"])
async def test_common_passwords_are_refused_with_the_reason(
    server: RunningServer, password: str
) -> None:
    email = unique_email()
    body = await server.graphql(
        REGISTER_WITH_REASONS,
        {"input": {"name": "Ada", "email": email, "password": password}},
    )
    result = data(body)["register"]
    assert result["__typename"] == "ValidationError"
    [problem] = result["fields"]
    assert (problem["field"], problem["code"]) == ("password", "TOO_COMMON")
    assert "most common passwords" in problem["message"]
    assert (await login(server, email, password))["__typename"] == "InvalidCredentialsError"


async def test_a_password_made_of_the_email_name_is_refused(server: RunningServer) -> None:
    email = f"margaret.{uuid.uuid4().hex[:8]}@example.com"
    body = await server.graphql(
        REGISTER_WITH_REASONS,
        {"input": {"name": "Ada", "email": email, "password": email.split("@")[0] + "2024!"}},
    )
    assert data(body)["register"]["fields"][0]["code"] == "TOO_COMMON"


async def test_changing_to_a_common_password_keeps_the_old_one(server: RunningServer) -> None:
    email = unique_email()
    token, _ = await signed_up(server, email=email)
    result = await update(server, token, password="iloveyou1", currentPassword=PASSWORD)
    assert result == {
        "__typename": "ValidationError",
        "fields": [{"field": "password", "code": "TOO_COMMON"}],
    }
    assert (await login(server, email, PASSWORD))["__typename"] == "AuthPayload"


async def test_changing_to_a_taken_email_is_refused(server: RunningServer) -> None:
    taken = unique_email()
    await signed_up(server, email=taken)
    token, user = await signed_up(server)
    result = await update(server, token, email=taken.upper(), currentPassword=PASSWORD)
    assert result["__typename"] == "EmailTakenError"
    me = data(await server.graphql(ME, headers=bearer(token)))["me"]
    assert me["email"] == user["email"]


async def test_profile_and_watchlist_need_a_signed_in_user(server: RunningServer) -> None:
    body = await server.graphql(UPDATE_PROFILE, {"input": {"name": "x"}})
    assert error_code(body) == "UNAUTHENTICATED"
    assert error_code(await server.graphql(ADD, {"s": "AAPL"})) == "UNAUTHENTICATED"
    assert error_code(await server.graphql(REMOVE, {"s": "AAPL"})) == "UNAUTHENTICATED"


async def test_watchlist_adds_once_and_removes(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    headers = bearer(token)
    await server.graphql(ADD, {"s": "aapl"}, headers=headers)
    await server.graphql(ADD, {"s": "MSFT"}, headers=headers)
    again = data(await server.graphql(ADD, {"s": "AAPL"}, headers=headers))["addToWatchlist"]
    assert again["watchlist"] == ["AAPL", "MSFT"]
    removed = data(await server.graphql(REMOVE, {"s": "aapl"}, headers=headers))
    assert removed["removeFromWatchlist"]["watchlist"] == ["MSFT"]
    missing = data(await server.graphql(REMOVE, {"s": "TSLA"}, headers=headers))
    assert missing["removeFromWatchlist"]["watchlist"] == ["MSFT"]


async def test_watchlist_takes_valid_known_symbols_only(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    headers = bearer(token)
    for symbol in ("not valid!", "ZZZZ"):
        body = await server.graphql(ADD, {"s": symbol}, headers=headers)
        assert error_code(body) == "BAD_USER_INPUT"
    me = data(await server.graphql(ME, headers=headers))["me"]
    assert me["watchlist"] == []


async def test_watchlist_holds_at_most_100_symbols(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    symbols = [listing.symbol for listing in SymbolDirectory().listings][:101]
    headers = bearer(token)
    for symbol in symbols[:100]:
        assert "errors" not in await server.graphql(ADD, {"s": symbol}, headers=headers)
    body = await server.graphql(ADD, {"s": symbols[100]}, headers=headers)
    assert error_code(body) == "BAD_USER_INPUT"
    me = data(await server.graphql(ME, headers=headers))["me"]
    assert me["watchlist"] == symbols[:100]


async def test_clear_cache_needs_an_admin(server: RunningServer) -> None:
    assert error_code(await server.graphql(CLEAR_CACHE)) == "UNAUTHENTICATED"
    token, _ = await signed_up(server)
    assert error_code(await server.graphql(CLEAR_CACHE, headers=bearer(token))) == "FORBIDDEN"
    admin = await admin_token(server)
    cleared = data(await server.graphql(CLEAR_CACHE, headers=bearer(admin)))["clearCache"]
    assert cleared["keysRemoved"] >= 0


async def test_two_concurrent_registrations_of_one_email_create_one_user(
    server: RunningServer,
) -> None:
    email = unique_email()
    results = await asyncio.gather(
        *(register(server, email=variant) for variant in (email, email.upper(), email.title()))
    )
    kinds = sorted(result["__typename"] for result in results)
    assert kinds == ["AuthPayload", "EmailTakenError", "EmailTakenError"]


@pytest.fixture
async def limited_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}",
        register_limit_per_address=4,
    )
    async with running_server(settings) as server:
        yield server


async def test_registrations_from_one_address_are_rate_limited(
    limited_server: RunningServer,
) -> None:
    results = [await register(limited_server) for _ in range(5)]
    assert [result["__typename"] for result in results] == ["AuthPayload"] * 4 + [
        "RateLimitedError"
    ]


async def test_behind_a_proxy_the_address_it_added_counts_not_the_clients_own_claims(
    tmp_path: Path,
) -> None:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'proxied.db'}",
        trust_forwarded_for=True,
        register_limit_per_address=2,
    )

    async def register_via_proxy(claimed: str, seen_by_proxy: str) -> str:
        headers = {"x-forwarded-for": f"{claimed}, {seen_by_proxy}"}
        result = await register(server, headers=headers)
        return str(result["__typename"])

    async with running_server(settings) as server:
        # One client claiming a new address each time: still one client to the limits.
        claims = [await register_via_proxy(f"10.0.0.{i}", "203.0.113.7") for i in range(3)]
        assert claims == ["AuthPayload", "AuthPayload", "RateLimitedError"]
        # Another client, claiming the first one's address: counted on its own.
        assert await register_via_proxy("203.0.113.7", "198.51.100.4") == "AuthPayload"


async def test_login_rehashes_a_password_made_with_older_parameters(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rehash.db'}"
    email = unique_email()
    async with running_server(api_settings(database_url=url)) as old:
        await signed_up(old, email=email)
    async with running_server(api_settings(database_url=url, password_time_cost=2)) as new:
        users = new.app.state.runtime.users
        before = (await users.find_by_email(email)).password_hash
        assert (await login(new, email, PASSWORD))["__typename"] == "AuthPayload"
        after = (await users.find_by_email(email)).password_hash
    assert "t=1" in before
    assert "t=2" in after
    async with running_server(api_settings(database_url=url, password_time_cost=2)) as again:
        assert (await login(again, email, PASSWORD))["__typename"] == "AuthPayload"


async def test_the_whole_account_flow_works_on_the_embedded_sqlite(
    sqlite_server: RunningServer,
) -> None:
    email = unique_email()
    token, user = await signed_up(sqlite_server, email=email)
    assert (await login(sqlite_server, email, PASSWORD))["__typename"] == "AuthPayload"
    renamed = await update(sqlite_server, token, name="Grace", currentPassword=PASSWORD)
    assert renamed["name"] == "Grace"
    added = data(await sqlite_server.graphql(ADD, {"s": "MSFT"}, headers=bearer(token)))
    assert added["addToWatchlist"]["watchlist"] == ["MSFT"]
    me = data(await sqlite_server.graphql(ME, headers=bearer(token)))["me"]
    assert (me["id"], me["name"], me["watchlist"]) == (user["id"], "Grace", ["MSFT"])
