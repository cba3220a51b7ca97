"""Reading GraphQL response bodies in tests."""

from __future__ import annotations

from typing import Any


def data(body: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a response that must have no errors."""
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def first_error(body: dict[str, Any]) -> dict[str, Any]:
    """The first error of a response that must have one."""
    assert body.get("errors"), body
    error: dict[str, Any] = body["errors"][0]
    return error


def error_code(body: dict[str, Any]) -> str:
    """extensions.code of the first error of a response that must have one."""
    assert body.get("errors"), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


def replayed(body: dict[str, Any]) -> bool:
    """Whether the response cache answered with a stored result (app/response_cache.py)."""
    return bool(body.get("extensions", {}).get("responseCache", {}).get("hit"))
