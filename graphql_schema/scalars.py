"""Scalars of the contract: DateTime is ISO-8601 UTC with a "Z" suffix; Date is YYYY-MM-DD."""

from datetime import UTC, date, datetime
from typing import Any

import orjson
import strawberry
from strawberry.types.scalar import ScalarDefinition

_UTC_Z = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def serialize_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with a "Z" suffix; naive datetimes are taken as UTC."""
    if value.tzinfo is not UTC and value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    if type(value) is datetime:
        # The same text as isoformat() below, ~4x faster: history sends thousands of these.
        return orjson.dumps(value, option=_UTC_Z)[1:-1].decode()
    return value.replace(tzinfo=None).isoformat() + "Z"


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        message = f"Invalid DateTime {value!r}: use ISO-8601, e.g. 2024-05-03T14:30:00Z"
        raise ValueError(message) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("Date must be a YYYY-MM-DD string")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Invalid Date {value!r}: use YYYY-MM-DD") from None


DateTime = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date and time in UTC with a Z suffix.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

Date = strawberry.scalar(
    name="Date",
    description="A calendar date, YYYY-MM-DD.",
    serialize=date.isoformat,
    parse_value=parse_date,
)


def scalar_map() -> dict[object, ScalarDefinition]:
    """Python types whose GraphQL scalar differs from strawberry's default."""
    return {datetime: DateTime, date: Date}
