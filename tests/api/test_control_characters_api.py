"""Control characters in string inputs, on PostgreSQL (which cannot store NUL): refused at
the API boundary as BAD_USER_INPUT naming the field, in variables and literals alike, and no
SQL error (with its parameters) reaches the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.adapters.sql.database import create_engine
from tests.support.accounts import LOGIN, REGISTER, bearer, signed_up
from tests.support.graphql import data
from tests.support.server import RunningServer

UPDATE_PROFILE = """
mutation Update($input: UpdateProfileInput!) {
  updateProfile(input: $input) { __typename ... on User { id name } }
}
"""
DELETE_ALERT = "mutation Delete($id: ID!) { deleteAlert(id: $id) }"
MARK_READ = "mutation Read($ids: [ID!]) { markNotificationsRead(ids: $ids) }"
HISTORY = "query History($symbol: String!) { history(symbol: $symbol) { symbol } }"
REFUSED = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85"]


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    """The single BAD_USER_INPUT error of a request refused before any resolver ran."""
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return dict(error)


@pytest.mark.parametrize("character", REFUSED, ids=lambda c: f"U+{ord(c[0]):04X}")
async def test_control_characters_in_variables_are_bad_input_naming_the_field(
    server: RunningServer, character: str, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = await signed_up(server)
    poisoned = f"Ada{character}Lovelace"
    requests: list[tuple[str, dict[str, Any], dict[str, str] | None, str]] = [
        (
            REGISTER,
            {"input": {"name": poisoned, "email": "nul@example.com", "password": "a long secret"}},
            None,
            "$input.name",
        ),
        (
            LOGIN,
            {"input": {"email": f"nul{character}@example.com", "password": "x"}},
            None,
            "$input.email",
        ),
        (UPDATE_PROFILE, {"input": {"name": poisoned}}, bearer(token), "$input.name"),
        (DELETE_ALERT, {"id": f"1{character}"}, bearer(token), "$id"),
        (MARK_READ, {"ids": ["1", f"2{character}"]}, bearer(token), "$ids[1]"),
        (HISTORY, {"symbol": f"AAPL{character}"}, None, "$symbol"),
    ]
    with caplog.at_level(logging.ERROR):
        for document, variables, headers, field in requests:
            error = refusal(await server.graphql(document, variables, headers=headers))
            assert error["extensions"]["field"] == field, error
            assert f"U+{ord(character[0]):04X}" in error["message"], error
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_control_characters_in_literals_are_bad_input_naming_the_field(
    server: RunningServer,
) -> None:
    register = (
        'mutation { register(input: {name: "Ada", email: "a\\u0000@example.com", '
        'password: "a long secret"}) { __typename } }'
    )
    error = refusal(await server.graphql(register))
    assert error["extensions"]["field"] == "input.email", error
    assert error["locations"], error
    error = refusal(await server.graphql('{ history(symbol: "AA\\u001bPL") { symbol } }'))
    assert error["extensions"]["field"] == "symbol", error
    # A variable's default value is a literal too.
    defaulted = 'query($s: String = "\\u0000") { history(symbol: $s) { symbol } }'
    assert refusal(await server.graphql(defaulted))["extensions"]["field"] == "$s"


async def test_tabs_and_line_breaks_are_not_control_characters_here(
    server: RunningServer,
) -> None:
    token, _ = await signed_up(server)
    body = await server.graphql(
        UPDATE_PROFILE, {"input": {"name": "Ada\tLove\r\nlace"}}, headers=bearer(token)
    )
    # Whitespace in names is collapsed, as it always was.
    assert data(body)["updateProfile"]["name"] == "Ada Love lace"


async def test_sql_errors_never_carry_their_parameters(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(
                    text("SELECT CAST(:email AS text)"), {"email": "ada\x00@example.com"}
                )
    finally:
        await engine.dispose()
    assert "ada" not in str(raised.value)
    assert "parameters hidden" in str(raised.value)
