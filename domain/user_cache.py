"""Users by id kept in process while their stamp in the shared cache says they are unchanged.

Every signed-in request reads its token's user; that database read was a large share of a
signed-in request's work (issue 17). Here a store decorator keeps the users it read, each
with the stamp its key in the shared cache (Redis, or process memory without it) held when it
was read. Every write through it sets a fresh stamp once the write is done, so every replica's
copy stops matching: a read checks the stamp (one cache read) and goes to the store only
when it changed. The stamp is read before the store, so a copy is never newer than the stamp
it is kept with, and a write racing the read leaves a stamp that no longer matches.

A copy is also dropped after `max_age_seconds`. That bounds what a lost stamp can hide: a
stamp write that failed (Redis unreachable during a write) or stamps lost with a restarted
Redis, in which case another replica may answer with the user as it was, a revoked token
generation included, for at most that long.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from domain.cache import Cache
from domain.users import User, UserStore

_Result = TypeVar("_Result")

DEFAULT_MAX_AGE_SECONDS = 10.0
DEFAULT_MAX_USERS = 10_000
# A stamp outlives every copy made while it was current; once it expires, copies read with
# it simply stop matching.
STAMP_TTL_SECONDS = 3600.0


def stamp_key(user_id: str) -> str:
    return f"stockql:user-stamp:{user_id}"


@dataclass(frozen=True, slots=True)
class _Copy:
    user: User
    stamp: bytes | None
    read_at: float


class CachedUserStore:
    """A UserStore whose `get` answers from process memory while the user's stamp is
    unchanged; every other method goes to `store`, writes then set a new stamp."""

    def __init__(
        self,
        store: UserStore,
        stamps: Cache,
        *,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        max_users: int = DEFAULT_MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
        new_stamp: Callable[[], bytes] = lambda: uuid.uuid4().bytes,
    ) -> None:
        if max_users < 1:
            raise ValueError(f"max_users must be at least 1, not {max_users}")
        self._store = store
        self._stamps = stamps
        self._max_age = max_age_seconds
        self._max_users = max_users
        self._clock = clock
        self._new_stamp = new_stamp
        # user id -> copy; least recently used first.
        self._copies: OrderedDict[str, _Copy] = OrderedDict()

    async def get(self, user_id: str) -> User | None:
        stamp = await self._stamps.get(stamp_key(user_id))
        now = self._clock()
        copy = self._copies.get(user_id)
        if copy is not None and copy.stamp == stamp and now - copy.read_at < self._max_age:
            self._copies.move_to_end(user_id)
            return copy.user
        user = await self._store.get(user_id)
        if user is None:
            self._copies.pop(user_id, None)
            return None
        self._copies[user_id] = _Copy(user, stamp, now)
        self._copies.move_to_end(user_id)
        while len(self._copies) > self._max_users:
            self._copies.popitem(last=False)
        return user

    async def create(self, user: User) -> None:
        await self._store.create(user)

    async def find_by_email(self, email: str) -> User | None:
        return await self._store.find_by_email(email)

    async def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User | None:
        return await self._written(
            user_id,
            self._store.update(user_id, name=name, email=email, password_hash=password_hash),
        )

    async def add_to_watchlist(self, user_id: str, symbol: str) -> User | None:
        return await self._written(user_id, self._store.add_to_watchlist(user_id, symbol))

    async def remove_from_watchlist(self, user_id: str, symbol: str) -> User | None:
        return await self._written(user_id, self._store.remove_from_watchlist(user_id, symbol))

    async def revoke_tokens(self, user_id: str) -> User | None:
        return await self._written(user_id, self._store.revoke_tokens(user_id))

    async def delete(self, user_id: str) -> bool:
        return await self._written(user_id, self._store.delete(user_id))

    async def _written(self, user_id: str, write: Awaitable[_Result]) -> _Result:
        try:
            return await write
        finally:
            await self._changed(user_id)

    async def _changed(self, user_id: str) -> None:
        # Also after a write that raised: it may have been applied before the error.
        self._copies.pop(user_id, None)
        await self._stamps.set(stamp_key(user_id), self._new_stamp(), ttl_seconds=STAMP_TTL_SECONDS)
