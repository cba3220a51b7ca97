"""Errors the domain raises for callers to report. Each carries the API error code it maps to."""

from __future__ import annotations


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


class NotFound(StockQLError):
    code = "NOT_FOUND"


class UpstreamUnavailable(StockQLError):
    """The data provider failed and nothing stored could stand in."""

    code = "UPSTREAM_UNAVAILABLE"


class RateLimited(StockQLError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
