"""Warnings of an operation, sent in the response's `extensions.warnings`.

A warning says that an answer is less than what was asked for without being an error (a
requested start before the first stored bar, for example): clients that do not ask for the
fields telling it (PriceHistory.availableFrom) still see it. Each entry is
{"code": ..., "message": ..., "path": [...]}.
"""

from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from strawberry.extensions.base_extension import SchemaExtension
from strawberry.types import Info

_WARNINGS: ContextVar[list[dict[str, Any]] | None] = ContextVar("stockql_warnings", default=None)


def warn(info: Info[Any, Any], code: str, message: str) -> None:
    """Add a warning about the field `info` resolves; nothing outside an operation run
    with OperationWarnings (subscriptions, for one)."""
    warnings = _WARNINGS.get()
    if warnings is not None:
        warnings.append({"code": code, "message": message, "path": info.path.as_list()})


class OperationWarnings(SchemaExtension):
    """Collects the warnings of one operation (strawberry makes one instance per operation)."""

    def __init__(self) -> None:
        super().__init__()
        self._warnings: list[dict[str, Any]] = []

    def on_execute(self) -> Iterator[None]:
        # The resolvers run in tasks that copy this context, sharing the list it points at.
        token = _WARNINGS.set(self._warnings)
        try:
            yield
        finally:
            _WARNINGS.reset(token)

    def get_results(self) -> dict[str, Any]:
        return {"warnings": list(self._warnings)} if self._warnings else {}
