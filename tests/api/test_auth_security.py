"""Security of accounts through HTTP: forged tokens, secrets in responses and logs, isolation."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from tests.api.conftest import TEST_JWT_SECRET
from tests.support.accounts import REGISTER, bearer, signed_up, unique_email
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer

ME = "{ me { id email watchlist } }"
RENAME = """
mutation($name: String!) { updateProfile(input: {name: $name}) { ... on User { id name } } }
"""
CLEAR_CACHE = "mutation { clearCache { keysRemoved } }"


def b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def claims(
    user_id: str, *, role: str = "USER", expires_in: timedelta = timedelta(hours=1)
) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "sub": user_id,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + expires_in).timestamp()),
    }


def forged_tokens(user_id: str, genuine: str) -> dict[str, str]:
    header, payload, signature = genuine.split(".")
    admin_payload = b64({**json.loads(base64.urlsafe_b64decode(payload + "==")), "role": "ADMIN"})
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(user_id))}.",
        "tampered payload": f"{header}.{admin_payload}.{signature}",
        "wrong secret": jwt.encode(
            claims(user_id), "another-secret-that-is-long-enough-1234", algorithm="HS256"
        ),
        "expired": jwt.encode(
            claims(user_id, expires_in=timedelta(seconds=-5)), TEST_JWT_SECRET, algorithm="HS256"
        ),
        "HS512 with the secret": jwt.encode(claims(user_id), TEST_JWT_SECRET, algorithm="HS512"),
        "garbage": "Bearer not.a.token",
        "huge": "x" * 20_000,
    }


async def test_forged_and_broken_tokens_are_unauthenticated(server: RunningServer) -> None:
    token, user = await signed_up(server)
    for name, forged in forged_tokens(user["id"], token).items():
        headers = {"authorization": f"Bearer {forged}"}
        # A present but invalid token is UNAUTHENTICATED on `me` too (null is for no token).
        assert error_code(await server.graphql(ME, headers=headers)) == "UNAUTHENTICATED", name
        body = await server.graphql(RENAME, {"name": "Mallory"}, headers=headers)
        assert error_code(body) == "UNAUTHENTICATED", name
        assert (
            error_code(await server.graphql(CLEAR_CACHE, headers=headers)) == "UNAUTHENTICATED"
        ), name
    me = data(await server.graphql(ME, headers=bearer(token)))["me"]
    assert me["id"] == user["id"]


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b c", "\xe9\xe9".encode("latin-1")]
)
async def test_garbage_authorization_headers_are_unauthenticated(
    server: RunningServer, header: str | bytes
) -> None:
    # httpx is typed for str names with str values, or bytes names with bytes values.
    headers = {"authorization": header} if isinstance(header, str) else {b"authorization": header}
    response = await server.client.post(
        "/graphql", json={"query": RENAME, "variables": {"name": "x"}}, headers=headers
    )
    body = response.json()
    assert error_code(body) == "UNAUTHENTICATED"


async def test_a_deleted_users_token_is_unauthenticated(server: RunningServer) -> None:
    token, user = await signed_up(server)
    assert await server.app.state.runtime.users.delete(user["id"])
    assert error_code(await server.graphql(ME, headers=bearer(token))) == "UNAUTHENTICATED"
    assert (
        error_code(await server.graphql(RENAME, {"name": "x"}, headers=bearer(token)))
        == "UNAUTHENTICATED"
    )


async def test_a_valid_token_with_a_forged_admin_role_claim_gets_no_admin_rights(
    server: RunningServer,
) -> None:
    # Signed with the real secret: only someone holding it could make this, but the role
    # must still come from the stored account.
    _, user = await signed_up(server)
    token = jwt.encode(claims(user["id"], role="ADMIN"), TEST_JWT_SECRET, algorithm="HS256")
    assert error_code(await server.graphql(CLEAR_CACHE, headers=bearer(token))) == "FORBIDDEN"


async def test_passwords_and_hashes_never_reach_responses_or_logs(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = unique_email()
    secret_password = "Unmistakable-Password-4711"
    texts: list[str] = []
    response = await server.client.post(
        "/graphql",
        json={
            "query": REGISTER,
            "variables": {"input": {"name": "Eve", "email": email, "password": secret_password}},
        },
    )
    texts.append(response.text)
    token = response.json()["data"]["register"]["token"]
    for variables in (
        {"input": {"email": email, "password": secret_password}},
        {"input": {"email": email, "password": "Wrong-Password-0815"}},
    ):
        response = await server.client.post(
            "/graphql",
            json={
                "query": "mutation($input: LoginInput!) { login(input: $input) { __typename } }",
                "variables": variables,
            },
        )
        texts.append(response.text)
    response = await server.client.post(
        "/graphql",
        json={
            "query": "mutation($i: UpdateProfileInput!) "
            "{ updateProfile(input: $i) { __typename } }",
            "variables": {
                "i": {"password": "Another-Secret-1234", "currentPassword": secret_password}
            },
        },
        headers=bearer(token),
    )
    texts.append(response.text)
    stored = (await server.app.state.runtime.users.find_by_email(email)).password_hash
    everything = "\n".join(texts + [record.getMessage() for record in caplog.records])
    for secret in (
        secret_password,
        "Wrong-Password-0815",
        "Another-Secret-1234",
        stored,
        "$argon2",
    ):
        assert secret not in everything


async def test_one_user_cannot_see_or_change_another_users_data(server: RunningServer) -> None:
    alice_token, alice = await signed_up(server)
    bob_token, bob = await signed_up(server)
    await server.graphql(
        'mutation { addToWatchlist(symbol: "AAPL") { id } }', headers=bearer(alice_token)
    )
    await server.graphql(RENAME, {"name": "Bob the Builder"}, headers=bearer(bob_token))
    alice_me = data(await server.graphql(ME, headers=bearer(alice_token)))["me"]
    bob_me = data(await server.graphql(ME, headers=bearer(bob_token)))["me"]
    assert (alice_me["id"], alice_me["watchlist"]) == (alice["id"], ["AAPL"])
    assert (bob_me["id"], bob_me["watchlist"]) == (bob["id"], [])
    alice_now = await server.app.state.runtime.users.get(alice["id"])
    assert alice_now.name == "Ada"
