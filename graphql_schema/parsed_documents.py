"""Documents parsed once per text: thousands of clients send the same few subscriptions and
queries, and parsing a document costs more than validating it again from the cache.

strawberry's ParserCache parses inside its own hook, so a syntax error or a document over the
token limit escaped strawberry's error handling there (wrong error code). Here only documents
that parsed are remembered: a text that fails is parsed again by strawberry every time and
reported as always. The cache belongs to one schema, whose token limit every remembered
document passed.
"""

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions.base_extension import SchemaExtension


class ParsedDocuments:
    """The last `max_entries` documents by their text (bounded: clients may send any text)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self._max_entries = max_entries
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, text: str) -> DocumentNode | None:
        document = self._documents.get(text)
        if document is not None:
            self._documents.move_to_end(text)
        return document

    def put(self, text: str, document: DocumentNode) -> None:
        self._documents[text] = document
        if len(self._documents) > self._max_entries:
            self._documents.popitem(last=False)


class RememberParsedDocuments(SchemaExtension):
    """Hands strawberry the document parsed before for the same text, and remembers the ones
    it parses."""

    def __init__(self, documents: ParsedDocuments) -> None:
        super().__init__()
        self._documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        text = context.query
        remembered = None
        if text and context.graphql_document is None:
            remembered = context.graphql_document = self._documents.get(text)
        yield
        # Unset when parsing failed: nothing is remembered then.
        if text and remembered is None and context.graphql_document is not None:
            self._documents.put(text, context.graphql_document)
