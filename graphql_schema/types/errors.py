"""Typed errors of mutation results, and the handlers that turn domain exceptions into them.

A handler applies only to fields whose result union contains its error type; elsewhere the
same exception stays a top-level error with its extensions.code."""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types.field import StrawberryField

from domain.accounts import EmailAlreadyUsed, InvalidCredentials
from domain.errors import InvalidInput, NotFound, RateLimited, ValidationFailed
from domain.signals.prices import InsufficientData
from domain.symbol_names import SymbolNames, suggestions_for
from graphql_schema.context import Info
from graphql_schema.types.market import SymbolMatch


@strawberry.interface
class Error:
    message: str


@strawberry.type
class FieldError:
    field: str = strawberry.field(
        description="Input field path in camelCase, e.g. 'email' or 'data.3.price'."
    )
    message: str
    code: str


@strawberry.type
class ValidationError(Error):
    message: str
    fields: list[FieldError]

    @classmethod
    def from_domain(cls, error: InvalidInput) -> "ValidationError":
        if isinstance(error, ValidationFailed):
            fields = [
                FieldError(field=p.field, message=p.message, code=p.code) for p in error.problems
            ]
        else:
            fields = [
                FieldError(field=error.field or "input", message=error.message, code="INVALID")
            ]
        return cls(message="The input is not valid", fields=fields)


@strawberry.type
class EmailTakenError(Error):
    message: str
    email: str


@strawberry.type
class InvalidCredentialsError(Error):
    message: str


@strawberry.type
class RateLimitedError(Error):
    message: str
    retry_after_seconds: int


@strawberry.type
class InsufficientDataError(Error):
    message: str
    required: int
    available: int


@strawberry.type
class NotFoundError(Error):
    message: str
    suggestions: list[SymbolMatch] = strawberry.field(
        description="For an unknown symbol, the listings it may have meant (best first, as "
        "searchSymbols ranks them); empty otherwise."
    )

    @classmethod
    def from_domain(cls, error: NotFound, names: SymbolNames | None) -> "NotFoundError":
        matches = suggestions_for(error, names)
        return cls(
            message=error.message,
            suggestions=[SymbolMatch.from_domain(match) for match in matches],
        )


DomainError = TypeVar("DomainError", bound=Exception)


class _Convert(strawberry.ExceptionHandler[DomainError, Any], Generic[DomainError]):
    """Turns one domain exception type into one GraphQL error type (given at run time, so
    the type parameters stay unbound for strawberry to read the attributes)."""

    def __init__(
        self,
        exception_type: type[DomainError],
        error_type: type,
        convert: Callable[[DomainError], Any],
    ) -> None:
        self.exception_type = exception_type
        self.error_type = error_type
        self._convert = convert

    def handle(self, exception: DomainError, *, field: StrawberryField, info: Info) -> Any:  # noqa: ARG002 - the handler protocol's arguments
        return self._convert(exception)


class _ConvertNotFound(strawberry.ExceptionHandler[NotFound, NotFoundError]):
    """NotFound -> NotFoundError, with suggestions from the request's symbol directory."""

    def handle(self, exception: NotFound, *, field: StrawberryField, info: Info) -> NotFoundError:  # noqa: ARG002 - the handler protocol's arguments
        return NotFoundError.from_domain(exception, info.context.services.symbol_names)


def exception_handlers() -> list[strawberry.ExceptionHandler[Any]]:
    return [
        _Convert(InvalidInput, ValidationError, ValidationError.from_domain),
        _Convert(
            EmailAlreadyUsed,
            EmailTakenError,
            lambda error: EmailTakenError(message=error.message, email=error.email),
        ),
        _Convert(
            InvalidCredentials,
            InvalidCredentialsError,
            lambda error: InvalidCredentialsError(message=error.message),
        ),
        _Convert(
            RateLimited,
            RateLimitedError,
            lambda error: RateLimitedError(
                message=error.message, retry_after_seconds=error.retry_after_seconds
            ),
        ),
        _ConvertNotFound(),
        _Convert(
            InsufficientData,
            InsufficientDataError,
            lambda error: InsufficientDataError(
                message=error.message, required=error.required, available=error.available
            ),
        ),
    ]
