"""The cache policy of an operation, from the schema's own @cacheControl hints: the smallest
max age of its root fields, PRIVATE as soon as one field is, nothing cached for a field
without a hint or for a mutation, and the symbols whose prices make it stale."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from graphql_schema.cache_control import (
    NOT_CACHEABLE,
    CacheControlScope,
    CachePolicy,
    cache_policy,
    query_hints,
)
from graphql_schema.schema import build_schema

HINTS = query_hints(build_schema())


def policy(
    query: str, variables: dict[str, Any] | None = None, name: str | None = None
) -> CachePolicy:
    return cache_policy(parse(query), name, variables, HINTS)


def test_the_schema_declares_a_hint_on_every_query_field() -> None:
    # A new field must choose: the policy treats a field without a hint as never cacheable.
    assert {"history", "latestPrice", "searchSymbols", "symbols", "me"} <= set(HINTS)
    assert HINTS["me"].scope is CacheControlScope.PRIVATE
    assert HINTS["notifications"].scope is CacheControlScope.PRIVATE


def test_one_public_field_gives_its_max_age_and_its_symbol() -> None:
    found = policy('{ latestPrice(symbol: " aapl ") { price } }')
    assert found == CachePolicy(5, CacheControlScope.PUBLIC, frozenset({"AAPL"}))
    assert found.shared
    assert found.cache_control_header() == "public, max-age=5"


def test_several_fields_give_the_smallest_max_age_and_every_symbol() -> None:
    query = """query($s: String!) {
        history(symbol: $s) { symbol } latestPrice(symbol: "MSFT") { price } symbols
    }"""
    found = policy(query, {"s": "goog"})
    assert found == CachePolicy(5, CacheControlScope.PUBLIC, frozenset({"GOOG", "MSFT"}))


def test_fields_through_fragments_count() -> None:
    query = """
        query { ...Prices ... on Query { symbols } }
        fragment Prices on Query { latestPrice(symbol: "IBM") { price } }
    """
    assert policy(query) == CachePolicy(5, CacheControlScope.PUBLIC, frozenset({"IBM"}))


@pytest.mark.parametrize(
    "query",
    [
        "{ me { email } }",
        "{ symbols me { email } }",
        "{ symbols notifications { id } }",
    ],
)
def test_a_private_field_is_never_shared(query: str) -> None:
    found = policy(query)
    assert not found.shared
    assert found.cache_control_header() == "no-store"  # me and notifications: max age 0


def test_a_private_max_age_says_private() -> None:
    assert CachePolicy(30, CacheControlScope.PRIVATE).cache_control_header() == (
        "private, max-age=30"
    )
    assert not CachePolicy(30, CacheControlScope.PRIVATE).shared


def test_mutations_subscriptions_and_unknown_operations_are_not_cacheable() -> None:
    assert policy('mutation { clearCache(symbol: "AAPL") { keysRemoved } }') is NOT_CACHEABLE
    assert policy('subscription { stockPrice(symbol: "AAPL") { price } }') is NOT_CACHEABLE
    two = "query A { symbols } query B { me { email } }"
    assert policy(two) is NOT_CACHEABLE  # several operations and no name: the view refuses it
    assert policy(two, name="A").shared
    assert not policy(two, name="B").shared
    assert policy(two, name="C") is NOT_CACHEABLE


def test_a_field_without_a_hint_makes_the_operation_not_cacheable() -> None:
    assert cache_policy(parse("{ symbols }"), None, None, {}) is NOT_CACHEABLE


def test_typename_alone_does_not_make_an_operation_cacheable() -> None:
    assert policy("{ __typename }") is NOT_CACHEABLE
    assert policy("{ __typename symbols }").max_age == 30
