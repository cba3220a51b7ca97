"""Log lines: one JSON object each, with the bound request context, and never a secret."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog
from structlog.contextvars import bound_contextvars

from app.logs import (
    REDACTED,
    configure_logging,
    is_secret_key,
    redact_secrets,
    redact_text,
    wire_lines,
)

ARGON2_HASH = "$argon2id$v=19$m=1024,t=1,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """configure_logging into a buffer; the process's logging set back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    uvicorn = {name: logging.getLogger(name) for name in names}
    saved_uvicorn = {
        name: (list(lg.handlers), lg.propagate, lg.level) for name, lg in uvicorn.items()
    }
    buffer = io.StringIO()
    configure_logging(level="info", log_format="json", stream=buffer)
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
        logging.captureWarnings(False)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, (handlers, propagate, level) in saved_uvicorn.items():
            uvicorn[name].handlers[:] = handlers
            uvicorn[name].propagate = propagate
            uvicorn[name].setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "newPassword",
        "currentPassword",
        "token",
        "authToken",
        "Authorization",
        "jwt_secret",
        "api_key",
        "apikey",
        "X-Api-Key",
        "secret",
        "password_hash",
        "cookie",
    ],
)
def test_secret_keys_are_recognised_whatever_their_spelling(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["event", "email", "symbol", "request_id", "max_query_tokens"])
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_the_processor_masks_secret_keyed_values_at_any_depth() -> None:
    event = {
        "event": "login",
        "password": "hunter22",
        "variables": {"input": {"email": "a@example.com", "newPassword": "p4ss"}},
        "headers": [{"authorization": "Bearer abc"}],
        "count": 3,
    }
    assert redact_secrets(None, "info", event) == {
        "event": "login",
        "password": REDACTED,
        "variables": {"input": {"email": "a@example.com", "newPassword": REDACTED}},
        "headers": [{"authorization": REDACTED}],
        "count": 3,
    }


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET https://www.alphavantage.co/query?function=X&apikey=K3YV4LU3&symbol=IBM", "K3YV4LU3"),
        ("header Authorization: Bearer s3cr3t-t0ken", "s3cr3t-t0ken"),
        (f"token {JWT} refused", JWT),
        (f"stored {ARGON2_HASH}", ARGON2_HASH),
        ("payload {'authToken': 'abc123', 'x': 1}", "abc123"),
        ('body {"password": "hunter22"}', "hunter22"),
        ("jwt_secret=topsecretvalue", "topsecretvalue"),
    ],
)
def test_secrets_inside_text_are_masked(text: str, secret: str) -> None:
    masked = redact_text(text)
    assert secret not in masked
    assert REDACTED in masked


def test_text_without_secrets_is_kept() -> None:
    text = "GET /graphql 200 in 12 ms for AAPL (max_query_tokens=4000)"
    assert redact_text(text) == text


def test_stdlib_lines_are_json_with_level_logger_time_and_bound_context(
    output: io.StringIO,
) -> None:
    with bound_contextvars(request_id="req-1"):
        logging.getLogger("stockql.test").info("quote of %s", "AAPL")
    (line,) = lines(output)
    assert line["event"] == "quote of AAPL"
    assert line["level"] == "info"
    assert line["logger"] == "stockql.test"
    assert line["request_id"] == "req-1"
    assert str(line["timestamp"]).endswith("Z")


def test_structlog_lines_are_json_and_redacted(output: io.StringIO) -> None:
    structlog.get_logger("stockql.test").warning(
        "login failed", email="a@example.com", password="hunter22"
    )
    (line,) = lines(output)
    assert line["password"] == REDACTED
    assert line["email"] == "a@example.com"
    assert "hunter22" not in output.getvalue()


def test_exceptions_are_logged_without_local_variables(output: io.StringIO) -> None:
    def fail(password: str) -> None:
        raise ValueError("bad input")

    try:
        fail("hunter22")
    except ValueError:
        logging.getLogger("stockql.test").exception("failed")
    (line,) = lines(output)
    assert "bad input" in str(line["exception"])
    assert "hunter22" not in output.getvalue()


def test_lines_below_the_level_are_not_written(output: io.StringIO) -> None:
    logging.getLogger("stockql.test").debug("noise")
    assert output.getvalue() == ""


def test_access_lines_become_fields_without_the_query_string(output: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/graphql?query=mutation&variables=%7B%22password%22%3A%22x%22%7D",
        "1.1",
        200,
    )
    (line,) = lines(output)
    assert line["event"] == "GET /graphql 200"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/graphql", 200)
    assert "variables" not in output.getvalue()


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (
            '< TEXT \'{"type":"connection_init","payload":{"authToken...hOuH6E"}}\' [254 bytes]',
            f"< TEXT {REDACTED} [254 bytes]",
        ),
        ('> TEXT \'{"id":"1"}\' [10 bytes]', f"> TEXT {REDACTED} [10 bytes]"),
        ("< authorization: Bearer abc.def.ghi", f"< authorization: {REDACTED}"),
        ("< Cookie: session=abc", f"< Cookie: {REDACTED}"),
        ("< host: 127.0.0.1:8000", "< host: 127.0.0.1:8000"),
        ("< CLOSE 1000 (OK) [2 bytes]", "< CLOSE 1000 (OK) [2 bytes]"),
    ],
)
def test_websocket_frames_and_secret_headers_in_debug_lines_are_masked(
    line: str, masked: str
) -> None:
    assert wire_lines(None, "debug", {"event": line})["event"] == masked
