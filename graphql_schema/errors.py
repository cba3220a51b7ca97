"""How errors reach clients: expected failures with their code, everything else masked."""

import logging

from graphql import GraphQLError

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
    if original is None and "code" in extensions:
        return error  # already rewritten
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
