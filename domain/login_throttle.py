"""Slowing password guessing without letting anyone lock an account's owner out.

The policy (README, "Login throttling"):
- Per email and client address: the first `free_failures` wrong passwords cost nothing;
  each further one makes that address wait before its next attempt for that email, twice
  as long each time (`backoff_base_seconds`, doubling, at most `backoff_max_seconds`). A
  successful login clears it. Failures are forgotten `window_seconds` after the last one.
- Per email: only the number of distinct addresses whose logins failed counts, with a
  much higher limit (`addresses_per_email` within `window_seconds`). Past it, addresses
  that never signed in to this email are refused until the window passes; one that signed
  in before (within `remember_address_days`) keeps signing in, whatever others try.
- Per address (AccountService): a fixed number of attempts per window across all emails,
  against one address spraying many accounts.

Refused attempts check no password and count no failure: an attacker hammering a waiting
address does not make the owner's wait longer. Attempts at the same moment from one
address may each pass the check before either failure is counted; the per-address limit
and the password hasher's concurrency bound that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from domain.errors import RateLimited

REFUSED_MESSAGE = "Too many attempts; try again later"


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    free_failures: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    addresses_per_email: int = 100
    window_seconds: int = 3600
    remember_address_days: int = 90

    def backoff_seconds(self, failures: int) -> float:
        """How long an address waits after its `failures`-th consecutive failure (0 while
        failures are free): base, 2 x base, 4 x base, ..., at most backoff_max_seconds."""
        beyond = failures - self.free_failures
        if beyond <= 0:
            return 0.0
        # Capped exponent: 2 ** 64 seconds is past any maximum, and floats stay finite.
        return min(self.backoff_max_seconds, self.backoff_base_seconds * 2.0 ** min(beyond - 1, 64))


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What is known of an email's logins from one address."""

    # Consecutive failed logins for this email from this address (0 after a success).
    failures: int = 0
    # When the last of them happened (epoch seconds), None without failures.
    last_failure_at: float | None = None
    # Distinct addresses whose logins for this email failed within the window.
    failing_addresses: int = 0
    # Whether this address signed in to this email before (within the remembered days).
    known_address: bool = False


class LoginAttempts(Protocol):
    """Where login attempts are remembered: Redis when present (shared by replicas), process
    memory otherwise. `email` is the normalized email key, `address` the client's address."""

    async def record(self, email: str, address: str) -> AttemptRecord: ...

    async def count_failure(
        self, email: str, address: str, *, at: float, window_seconds: int
    ) -> None:
        """One more failure for the pair (kept `window_seconds` after the last one), and the
        address among the email's failing addresses (kept as long)."""
        ...

    async def count_success(self, email: str, address: str, *, remember_seconds: int) -> None:
        """Clear the pair's failures and remember the address as one that signed in."""
        ...


class LoginThrottle:
    def __init__(
        self,
        attempts: LoginAttempts,
        policy: LoginPolicy | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._attempts = attempts
        self._policy = policy or LoginPolicy()
        self._clock = clock

    async def check(self, email: str, address: str) -> None:
        """Raise RateLimited (with whole seconds to wait, at least 1) when this address must
        wait before trying `email` again, or the email is under attack from too many
        addresses and this one never signed in to it."""
        policy = self._policy
        record = await self._attempts.record(email, address)
        if record.last_failure_at is not None:
            wait_until = record.last_failure_at + policy.backoff_seconds(record.failures)
            waiting = wait_until - self._now()
            if waiting > 0:
                raise RateLimited(REFUSED_MESSAGE, retry_after_seconds=max(1, math.ceil(waiting)))
        if not record.known_address and record.failing_addresses >= policy.addresses_per_email:
            raise RateLimited(REFUSED_MESSAGE, retry_after_seconds=policy.window_seconds)

    async def failed(self, email: str, address: str) -> None:
        await self._attempts.count_failure(
            email, address, at=self._now(), window_seconds=self._policy.window_seconds
        )

    async def succeeded(self, email: str, address: str) -> None:
        remember = self._policy.remember_address_days * 86_400
        await self._attempts.count_success(email, address, remember_seconds=remember)

    def _now(self) -> float:
        return self._clock().timestamp()
