"""Scalars of the contract: DateTime is ISO-8601 UTC with a "Z" suffix; Date is YYYY-MM-DD."""

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition, ScalarWrapper


def serialize_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with a "Z" suffix; naive datetimes are taken as UTC."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat()
    return text + "Z"


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Invalid DateTime {value!r}: use ISO-8601, e.g. 2024-05-03T14:30:00Z")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


DateTime: ScalarWrapper = strawberry.scalar(
    datetime,
    name="DateTime",
    description="ISO-8601 date and time in UTC with a Z suffix.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)


def scalar_overrides() -> dict[object, ScalarWrapper | ScalarDefinition]:
    """Python types whose GraphQL scalar differs from strawberry's default."""
    return {datetime: DateTime}
