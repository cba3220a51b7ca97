"""The cache port: byte values with a time to live, grouped by symbol so they can be cleared."""

from __future__ import annotations

from typing import Protocol


class Cache(Protocol):
    """Redis in production, process memory in the embedded default.

    Keys are built with `symbol_key` so that `clear_symbol` finds every key of a symbol.
    """

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None: ...

    async def clear_symbol(self, symbol: str | None) -> dict[str, int]:
        """Remove every key of `symbol` (of every symbol when None); returns how many keys
        each symbol had (symbols without keys are left out)."""
        ...


def symbol_key(symbol: str, *parts: str) -> str:
    """Cache key of a symbol's entry, e.g. symbol_key("AAPL", "bars", "daily")."""
    return ":".join(("stockql", "sym", symbol, *parts))


def symbol_of_key(key: str) -> str:
    """The symbol of a key built by `symbol_key`."""
    return key.split(":", 3)[2]
