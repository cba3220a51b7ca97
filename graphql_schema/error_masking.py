"""How errors reach clients: expected failures with their code, everything else masked."""

import dataclasses
import logging

from graphql import GraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from domain.errors import InvalidInput, RateLimited, StockQLError, UpstreamUnavailable
from domain.symbol_names import SymbolNames, has_suggestions, suggestions_for

log = logging.getLogger("stockql.graphql")

INTERNAL_MESSAGE = "Internal server error"
_PRE_EXECUTION_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError)
# Errors that may say how long to wait before asking again.
_WAITS = (RateLimited, UpstreamUnavailable)


def is_expected(error: GraphQLError) -> bool:
    """Errors before execution (syntax, validation, variables) and StockQLError are expected.

    An error without a path is not enough: strawberry turns an exception raised while a
    subscription's event stream is iterated into a path-less GraphQLError carrying the
    original exception (and its message), and that one must stay masked.
    """
    original = error.original_error
    if isinstance(original, StockQLError):
        return True
    if error.path is not None:
        return False
    # Syntax and validation errors have no original; variable coercion errors point at the
    # variable in the document; strawberry's pre-execution errors have their own types.
    return original is None or bool(error.nodes) or isinstance(original, _PRE_EXECUTION_ERRORS)


def client_error(error: GraphQLError, names: SymbolNames | None = None) -> GraphQLError:
    """The error as a client sees it: message and extensions.code, never internals.

    Extensions also carry `field` for bad input, `retryAfterSeconds` when waiting helps, and
    for an unknown or malformed symbol `suggestions`: the best matches of `names` (no
    provider call), in searchSymbols' shape.
    """
    original = error.original_error
    extensions = dict(error.extensions or {})
    if original is None and "code" in extensions:
        return error  # already rewritten
    if isinstance(original, StockQLError):
        message = original.message
        extensions["code"] = original.code
        if isinstance(original, InvalidInput) and original.field:
            extensions["field"] = original.field
        wait = original.retry_after_seconds if isinstance(original, _WAITS) else None
        if wait is not None:
            extensions["retryAfterSeconds"] = wait
        if has_suggestions(original):
            matches = suggestions_for(original, names)
            extensions["suggestions"] = [dataclasses.asdict(match) for match in matches]
    elif is_expected(error):
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
