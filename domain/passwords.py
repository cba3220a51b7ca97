"""Password hashing with argon2id, run off the event loop.

Passwords never appear in logs or exception messages: they are encoded here (so no codec
error can quote them) and argon2-cffi's own errors carry only libargon2's reason.
"""

from __future__ import annotations

import asyncio
import secrets

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

# How many hashes may run at once. Each one holds `memory_cost` KiB (64 MiB by default) and
# keeps `parallelism` cores busy, so letting every waiting login hash at once would only add
# memory, not throughput.
DEFAULT_MAX_CONCURRENT = 4


class PasswordHasher:
    """argon2id hashes in PHC string form (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).

    The defaults are RFC 9106's low-memory profile (time_cost 3, memory_cost 65536 KiB,
    parallelism 4). `memory_cost` is in KiB. At most `max_concurrent` hashes or verifications
    run at the same time; further calls wait their turn.
    """

    def __init__(
        self,
        *,
        time_cost: int = RFC_9106_LOW_MEMORY.time_cost,
        memory_cost: int = RFC_9106_LOW_MEMORY.memory_cost,
        parallelism: int = RFC_9106_LOW_MEMORY.parallelism,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
        # argon2-cffi validates the parameters itself (e.g. memory_cost >= 8 * parallelism).
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=RFC_9106_LOW_MEMORY.hash_len,
            salt_len=RFC_9106_LOW_MEMORY.salt_len,
            type=argon2.Type.ID,
        )
        self._slots = asyncio.Semaphore(max_concurrent)
        self._dummy_hash: str | None = None
        self._dummy_lock = asyncio.Lock()

    async def hash(self, password: str) -> str:
        """A new salted hash of `password`; two calls never return the same string.

        Any string is accepted, the empty one and lone surrogates included; limiting the
        length is the caller's business (time grows with it only slightly).
        """
        async with self._slots:
            return await asyncio.to_thread(self._argon2.hash, _encode(password))

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches `password_hash`.

        False, never an exception, when it does not match or when the hash cannot be read
        (not an argon2 hash, truncated, non-ASCII). Hashes made with other parameters still
        verify: their parameters are read from the hash.
        """
        try:
            encoded_hash = password_hash.encode("ascii")
        except UnicodeEncodeError:
            return False
        async with self._slots:
            try:
                return await asyncio.to_thread(self._argon2.verify, encoded_hash, _encode(password))
            except (VerificationError, InvalidHashError):
                # VerifyMismatchError is a VerificationError; neither names the password.
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether `password_hash` was made with other parameters than this hasher's (or
        cannot be read), so the password should be hashed again after a successful login.

        Cheap: it only parses the hash.
        """
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except ValueError:
            # InvalidHashError is a ValueError, as are the parse errors of a mangled hash.
            return True

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one real verification, for a login whose email is unknown.

        Verifies `password` against a fixed hash of a random secret, made with this hasher's
        parameters on first use (that first call also pays for the hash, once per process).
        Without it, an unknown email would answer faster than a wrong password and tell
        attackers which emails have accounts.
        """
        await self.verify(await self._get_dummy_hash(), password)

    async def _get_dummy_hash(self) -> str:
        if self._dummy_hash is None:
            async with self._dummy_lock:
                if self._dummy_hash is None:
                    self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        return self._dummy_hash


def _encode(password: str) -> bytes:
    # "surrogatepass" makes every str encodable: a strict encoding error would quote the
    # offending character in its message and keep the whole password on the exception.
    return password.encode("utf-8", "surrogatepass")
