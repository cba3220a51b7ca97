"""Errors the domain raises for callers to report. Each carries the API error code it maps to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class StockQLError(Exception):
    """Base of the expected failures; `message` is safe to show to clients."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(StockQLError):
    """Bad user input. `field` names the argument or input path (camelCase) when known."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidSymbol(InvalidInput):
    """Text that cannot be a ticker at all ("Apple Inc."); `text` is what was given, so that
    the API can suggest the tickers it may have meant, as for SymbolNotFound."""

    def __init__(self, message: str, *, text: str, field: str = "symbol") -> None:
        super().__init__(message, field=field)
        self.text = text


class NotFound(StockQLError):
    code = "NOT_FOUND"


class SymbolNotFound(NotFound):
    """A symbol nobody knows: the provider said so, or the local directory knows the text as a
    company name rather than a ticker. The API adds the directory's best matches for `symbol`
    (extensions.suggestions), so every unknown symbol, whichever operation met it, gets them."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"Unknown symbol {symbol}")
        self.symbol = symbol


class UpstreamUnavailable(StockQLError):
    """A service the answer depends on failed: the data provider (and nothing stored could
    stand in), or the database. `retry_after_seconds`, when known, says when asking again can
    succeed (e.g. the provider's daily call limit resets at the next UTC midnight)."""

    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class DatabaseUnavailable(UpstreamUnavailable):
    """The database cannot be reached (down, restarting, refusing or dropping connections).
    The failed operation's transaction did not commit; only a connection lost during the
    COMMIT itself leaves that unknown."""

    def __init__(self, message: str = "The database is unavailable; try again shortly") -> None:
        super().__init__(message)


class RateLimited(StockQLError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad input field: `field` is the camelCase input path, `code` a stable reason."""

    field: str
    message: str
    code: str


class ValidationFailed(InvalidInput):
    """One or more input fields are invalid; nothing was changed."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(
            "; ".join(f"{p.field}: {p.message}" for p in problems),
            field=problems[0].field,
        )
        self.problems = problems


class Unauthenticated(StockQLError):
    code = "UNAUTHENTICATED"


class Forbidden(StockQLError):
    code = "FORBIDDEN"


SymbolCheck = Callable[[str], Awaitable[bool]]
