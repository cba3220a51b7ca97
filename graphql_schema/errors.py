"""How errors reach clients: expected failures with their code, everything else masked."""

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain.errors import InvalidInput, StockQLError

log = logging.getLogger("stockql.graphql")

INTERNAL_MESSAGE = "Internal server error"


def is_expected(error: GraphQLError) -> bool:
    """Errors before execution (syntax, validation, variables) and StockQLError are expected."""
    return error.path is None or isinstance(error.original_error, StockQLError)


def client_error(error: GraphQLError) -> GraphQLError:
    """The error as a client sees it: message and extensions.code, never internals."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, StockQLError):
        message = original.message
        extensions["code"] = original.code
        if isinstance(original, InvalidInput) and original.field:
            extensions["field"] = original.field
    elif error.path is None:
        message = error.message
        extensions["code"] = "BAD_USER_INPUT"
    else:
        message = INTERNAL_MESSAGE
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    """Rewrites every error of a result with client_error (after Schema.process_errors has
    logged the unexpected ones with their stack)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [client_error(error) for error in result.errors]
