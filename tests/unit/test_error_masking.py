"""graphql_schema/error_masking.py: what a client sees of an error, extensions included."""

from __future__ import annotations

from graphql import GraphQLError

from app.adapters.symbol_directory import SymbolDirectory
from domain.errors import (
    InvalidInput,
    InvalidSymbol,
    NotFound,
    RateLimited,
    StockQLError,
    SymbolNotFound,
    UpstreamUnavailable,
)
from graphql_schema.error_masking import client_error

DIRECTORY = SymbolDirectory()


def seen(error: StockQLError, names: SymbolDirectory | None = DIRECTORY) -> GraphQLError:
    raised = GraphQLError(error.message, path=["history"], original_error=error)
    return client_error(raised, names)


def test_an_unknown_symbol_carries_the_directorys_best_matches() -> None:
    error = seen(SymbolNotFound("APPLE"))

    assert error.message == "Unknown symbol APPLE"
    assert error.extensions == {
        "code": "NOT_FOUND",
        "suggestions": [
            {
                "symbol": "AAPL",
                "name": "Apple Inc.",
                "score": 0.87,
                "region": "United States",
                "currency": "USD",
            }
        ],
    }


def test_an_unknown_symbol_like_nothing_listed_has_no_suggestions() -> None:
    assert seen(SymbolNotFound("ZZZZ")).extensions == {"code": "NOT_FOUND", "suggestions": []}


def test_without_a_directory_an_unknown_symbol_has_no_suggestions() -> None:
    assert seen(SymbolNotFound("APPLE"), None).extensions == {
        "code": "NOT_FOUND",
        "suggestions": [],
    }


def test_other_not_found_errors_carry_no_suggestions() -> None:
    assert seen(NotFound("No trained model is active")).extensions == {"code": "NOT_FOUND"}


def test_waits_are_told_in_retry_after_seconds() -> None:
    limited = seen(RateLimited("slow down", retry_after_seconds=40))
    unavailable = seen(UpstreamUnavailable("daily limit", retry_after_seconds=22_381))

    assert limited.extensions == {"code": "RATE_LIMITED", "retryAfterSeconds": 40}
    assert unavailable.extensions == {"code": "UPSTREAM_UNAVAILABLE", "retryAfterSeconds": 22_381}


def test_an_outage_with_no_known_wait_names_none() -> None:
    assert seen(UpstreamUnavailable("down")).extensions == {"code": "UPSTREAM_UNAVAILABLE"}


def test_bad_input_names_its_field() -> None:
    error = seen(InvalidInput("bad", field="symbol"))

    assert error.extensions == {"code": "BAD_USER_INPUT", "field": "symbol"}


def test_text_that_cannot_be_a_ticker_is_bad_input_with_suggestions() -> None:
    error = seen(InvalidSymbol("not a symbol", text="Apple Inc."))

    assert error.extensions is not None
    assert (error.extensions["code"], error.extensions["field"]) == ("BAD_USER_INPUT", "symbol")
    assert [match["symbol"] for match in error.extensions["suggestions"]] == ["AAPL"]


def test_an_overlong_text_gets_no_suggestions() -> None:
    error = seen(InvalidSymbol("not a symbol", text="Apple " * 20))

    assert error.extensions is not None
    assert error.extensions["suggestions"] == []
