"""The rate limiter port: fixed windows counted per key."""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Redis when present (shared by replicas), process memory otherwise."""

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int | None:
        """Count one attempt for `key`. Returns None while at most `limit` attempts fall in
        the current window, else the whole seconds until the window ends (at least 1).
        An attempt refused this way is still counted."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts of `key` (e.g. after a successful login)."""
        ...
