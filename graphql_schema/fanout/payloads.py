"""Which subscription payloads may be shared between subscribers, and one payload per event.

Results are shared by the payload's identity (`EventResults`): it is what graphql-core hands
the per-event executor. So every subscriber's resolver must turn one event into the very same
payload object, which `one_payload_per_event` guarantees (tests/unit/test_shared_subscription_
events.py fails without it).
"""

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

SHARED_PAYLOAD_TYPES: set[type] = set()
# Events reach every subscriber within moments of each other: the latest ones suffice.
_PAYLOADS_KEPT = 1024
_Type = TypeVar("_Type", bound=type)
_Convert = TypeVar("_Convert", bound=Callable[..., object])


def shared_by_subscribers(cls: _Type) -> _Type:
    """Marks a subscription payload type whose results may be shared between subscribers:
    every field is a plain attribute that depends on the payload alone."""
    SHARED_PAYLOAD_TYPES.add(cls)
    return cls


def one_payload_per_event(convert: _Convert) -> _Convert:
    """For a shared payload type's `from_domain`: equal events (the one object the event bus
    hands every subscriber, or the same snapshot read by several) give one payload object."""
    return lru_cache(maxsize=_PAYLOADS_KEPT)(convert)  # type: ignore[return-value]
