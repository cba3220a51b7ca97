"""Which operations start directly (graphql_schema/fanout/direct.py): only documents the
general path ran, still parsed, with a query and variables of the right types, in a schema
with no extension wrapping the resolvers. tests/api/test_direct_subscriptions_api.py runs both
paths side by side."""

from __future__ import annotations

from typing import Any

from graphql import parse
from strawberry.extensions import SchemaExtension

from graphql_schema.fanout.direct import DirectSubscriptions
from graphql_schema.fanout.operation import OperationOutput
from graphql_schema.parsed_documents import ParsedDocuments
from graphql_schema.schema import build_schema

WATCH = "subscription($s: String!) { stockPrice(symbol: $s) { price } }"


async def _write(_message: str) -> None:
    raise AssertionError("nothing is written when the general path is left to run")


def output() -> OperationOutput:
    return OperationOutput(prefix="", write=_write, is_open=lambda: True)


def direct_subscriptions(documents: ParsedDocuments, *, max_known: int = 8) -> DirectSubscriptions:
    return DirectSubscriptions(build_schema(), documents, max_known=max_known)


async def start(direct: DirectSubscriptions, query: object, variables: object = None) -> Any:
    return await direct.start(query, variables, None, context=None, output=output())


async def test_only_documents_the_general_path_ran_and_still_parsed_start_directly() -> None:
    documents = ParsedDocuments(max_entries=1)
    direct = direct_subscriptions(documents)
    documents.put(WATCH, parse(WATCH))
    assert await start(direct, WATCH, {"s": "AAPL"}) is None  # never ran
    direct.remember(WATCH, None)
    documents.put("{ a }", parse("{ a }"))  # WATCH leaves the parsed documents
    assert await start(direct, WATCH, {"s": "AAPL"}) is None


async def test_queries_variables_and_names_of_other_types_take_the_general_path() -> None:
    documents = ParsedDocuments(max_entries=4)
    direct = direct_subscriptions(documents)
    documents.put(WATCH, parse(WATCH))
    direct.remember(WATCH, None)
    assert await start(direct, WATCH, ["AAPL"]) is None
    assert await start(direct, {"query": WATCH}, {"s": "AAPL"}) is None
    assert await direct.start(WATCH, None, 5, context=None, output=output()) is None


def test_known_documents_are_bounded_the_least_recently_run_forgotten_first() -> None:
    direct = direct_subscriptions(ParsedDocuments(max_entries=4), max_known=2)
    direct.remember("a", None)
    direct.remember("b", None)
    direct.remember("a", None)
    direct.remember("c", "Named")
    assert len(direct) == 2
    known = {key for key in (("a", None), ("b", None), ("c", "Named")) if key in direct}
    assert known == {("a", None), ("c", "Named")}


class WrapsEveryResolver(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def test_a_schema_with_an_extension_wrapping_resolvers_starts_nothing_directly() -> None:
    assert build_schema().direct_subscriptions is not None
    assert build_schema().direct_subscriptions.enabled  # type: ignore[union-attr]
    wrapped = build_schema(extensions=[WrapsEveryResolver]).direct_subscriptions
    assert wrapped is not None
    assert not wrapped.enabled
