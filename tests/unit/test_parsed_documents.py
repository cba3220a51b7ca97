"""Documents parsed once per text, per schema; texts that fail to parse are reported as
always, every time."""

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import parse

from graphql_schema.parsed_documents import ParsedDocuments
from graphql_schema.schema import SchemaLimits, build_schema


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts strawberry parses."""
    texts: list[str] = []

    def counting_parse(text: str, **options: Any) -> Any:
        texts.append(text)
        return parse(text, **options)

    monkeypatch.setattr(strawberry_schema, "parse", counting_parse)
    return texts


async def test_a_text_is_parsed_once(parses: list[str]) -> None:
    schema = build_schema()
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.data == {"__typename": "Query"}
    assert parses == ["{ __typename }"]


async def test_each_schema_parses_for_itself_under_its_own_token_limit(parses: list[str]) -> None:
    query = "{ a: __typename b: __typename c: __typename }"
    assert (await build_schema().execute(query)).data is not None
    strict = build_schema(SchemaLimits(max_tokens=5))
    for _ in range(2):
        result = await strict.execute(query)
        assert result.errors
        assert result.errors[0].message == (
            "Syntax Error: Document contains more than 5 tokens. Parsing aborted."
        )
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert parses == [query] * 3


async def test_a_syntax_error_is_reported_every_time(parses: list[str]) -> None:
    schema = build_schema()
    for _ in range(2):
        result = await schema.execute("{ __typename ")
        assert result.errors
        assert result.errors[0].message.startswith("Syntax Error")
    assert len(parses) == 2


def test_the_oldest_unused_documents_are_forgotten_first() -> None:
    documents = ParsedDocuments(max_entries=2)
    for text in ("{ a }", "{ b }"):
        documents.put(text, parse(text))
    assert documents.get("{ a }") is not None  # now the most recently used
    documents.put("{ c }", parse("{ c }"))
    assert len(documents) == 2
    assert documents.get("{ b }") is None
    assert documents.get("{ a }") is not None
