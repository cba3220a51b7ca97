"""Trusted documents as a validation rule: with a manifest, a document whose SHA-256 is not in
it fails validation, over HTTP and websockets alike (app/persisted_queries.py refuses such HTTP
requests before they reach the schema; websocket operations are stopped here). Cached with the
document's validation, so a trusted document costs one hash once."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from graphql import DocumentNode, GraphQLError, ValidationRule

NOT_TRUSTED = "PERSISTED_QUERY_NOT_TRUSTED"
NOT_TRUSTED_MESSAGE = "Only the server's trusted documents run"


def document_hash(document: str) -> str:
    """A document's SHA-256 as lower-case hex, the key of Apollo's persisted queries."""
    return hashlib.sha256(document.encode()).hexdigest()


def trusted_documents_rule(hashes: Collection[str]) -> type[ValidationRule]:
    """The rule refusing every document whose SHA-256 (lower-case hex) is not in `hashes`."""
    trusted = frozenset(hashes)

    class TrustedDocumentsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            source = node.loc.source.body if node.loc is not None else None
            if source is None or document_hash(source) not in trusted:
                self.report_error(
                    GraphQLError(NOT_TRUSTED_MESSAGE, extensions={"code": NOT_TRUSTED})
                )

    return TrustedDocumentsRule
