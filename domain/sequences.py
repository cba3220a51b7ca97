"""Price feed sequences: Redis Stream entry ids, `<milliseconds>-<counter>`.

They compare as pairs of numbers, never as strings ("999-0" < "1000-0", "5-9" < "5-10").
"""

from __future__ import annotations

import re

from domain.errors import InvalidInput

SequenceKey = tuple[int, int]

# ASCII digits only: \d would also take other scripts' digits, which Redis refuses.
_SEQUENCE = re.compile(r"([0-9]+)-([0-9]+)")
# Each part of a stream id is an unsigned 64-bit integer.
MAX_PART = 2**64 - 1


def parse_sequence(text: str, *, field: str = "after") -> SequenceKey:
    """The (milliseconds, counter) of a sequence; InvalidInput naming `field` otherwise."""
    match = _SEQUENCE.fullmatch(text)
    if match is not None:
        key = (int(match[1]), int(match[2]))
        if max(key) <= MAX_PART:
            return key
    raise InvalidInput(
        f"{field} must be a sequence of this feed, like 1700000000000-0", field=field
    )


def format_sequence(key: SequenceKey) -> str:
    return f"{key[0]}-{key[1]}"
