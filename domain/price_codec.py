"""PriceUpdated as bytes: one encoding for the stream, the channels and their subscribers."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from domain.events import PriceUpdated


def encode_price(event: PriceUpdated) -> bytes:
    """JSON of every field; `sequence` only when the event has one."""
    fields: dict[str, Any] = {
        "symbol": event.symbol,
        "price": event.price,
        "timestamp": event.timestamp,
        "volume": event.volume,
        "change": event.change,
        "change_percent": event.change_percent,
    }
    if event.sequence:
        fields["sequence"] = event.sequence
    return orjson.dumps(fields)


# Every subscriber of a channel decodes the same message: decoded once, and all of them get
# the same (immutable) event, which lets the GraphQL layer run each event once for all.
@lru_cache(maxsize=1024)
def decode_price(data: bytes) -> PriceUpdated:
    """The event `encode_price` made `data` from. Raises ValueError for anything else.
    Equal messages give the same PriceUpdated object."""
    try:
        fields = orjson.loads(data)
        symbol, sequence = fields["symbol"], fields.get("sequence", "")
        if not isinstance(symbol, str) or not isinstance(sequence, str):
            raise TypeError("symbol and sequence must be strings")
        return PriceUpdated(
            symbol=symbol,
            price=_number(fields["price"]),
            timestamp=datetime.fromisoformat(fields["timestamp"]),
            volume=_optional_number(fields.get("volume")),
            change=_optional_number(fields.get("change")),
            change_percent=_optional_number(fields.get("change_percent")),
            sequence=sequence,
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not an encoded PriceUpdated: {error}") from error


def _number(value: object) -> float:
    # bool is an int to Python, not a number to JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def _optional_number(value: object) -> float | None:
    return None if value is None else _number(value)


def price_symbol(data: bytes) -> str:
    """The symbol of an encoded PriceUpdated (the key that keeps the newest pending price per
    symbol). Raises ValueError for anything else."""
    return decode_price(data).symbol
