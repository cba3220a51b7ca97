"""CachedUserStore: users kept in process while their stamp in the shared cache is unchanged.

Two CachedUserStores over one store and one stamp cache stand for two replicas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.adapters.cache import MemoryCache
from domain.user_cache import CachedUserStore, stamp_key
from domain.users import Role, User
from tests.support.fakes import FakeUserStore

ADA = User(
    id="u1",
    name="Ada",
    email="ada@example.com",
    role=Role.USER,
    password_hash="hash",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


class CountingStore(FakeUserStore):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, user_id: str) -> User | None:
        self.gets += 1
        return await super().get(user_id)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> CountingStore:
    store = CountingStore()
    store.users[ADA.id] = ADA
    return store


def replicas(
    store: CountingStore, stamps: MemoryCache, clock: Clock, count: int = 2
) -> list[CachedUserStore]:
    return [CachedUserStore(store, stamps, max_age_seconds=10.0, clock=clock) for _ in range(count)]


async def test_an_unchanged_user_is_read_from_the_store_once(store: CountingStore) -> None:
    (users,) = replicas(store, MemoryCache(), Clock(), count=1)
    assert await users.get(ADA.id) == ADA
    assert await users.get(ADA.id) == ADA
    assert store.gets == 1


@pytest.mark.parametrize(
    "write",
    [
        lambda users: users.update(ADA.id, name="Grace"),
        lambda users: users.add_to_watchlist(ADA.id, "AAPL"),
        lambda users: users.remove_from_watchlist(ADA.id, "AAPL"),
        lambda users: users.revoke_tokens(ADA.id),
        lambda users: users.delete(ADA.id),
    ],
    ids=["update", "add_to_watchlist", "remove_from_watchlist", "revoke_tokens", "delete"],
)
async def test_a_write_on_one_replica_is_seen_by_every_replica_at_once(
    store: CountingStore, write: Callable[[CachedUserStore], Awaitable[object]]
) -> None:
    one, other = replicas(store, MemoryCache(), Clock())
    await one.get(ADA.id)
    await other.get(ADA.id)
    await write(one)
    expected = store.users.get(ADA.id)
    assert await other.get(ADA.id) == expected
    assert await one.get(ADA.id) == expected


async def test_a_revoked_generation_is_seen_by_the_other_replica(store: CountingStore) -> None:
    one, other = replicas(store, MemoryCache(), Clock())
    assert (await other.get(ADA.id)).token_generation == 0  # type: ignore[union-attr]
    await one.revoke_tokens(ADA.id)
    assert (await other.get(ADA.id)).token_generation == 1  # type: ignore[union-attr]


async def test_a_write_that_raises_still_changes_the_stamp(store: CountingStore) -> None:
    stamps = MemoryCache()
    one, other = replicas(store, stamps, Clock())
    await other.get(ADA.id)
    store.users["u2"] = replace(ADA, id="u2", email="grace@example.com")
    with pytest.raises(Exception, match="grace"):
        await one.update(ADA.id, email="grace@example.com")
    assert await stamps.get(stamp_key(ADA.id)) is not None


async def test_a_copy_is_read_again_after_its_max_age(store: CountingStore) -> None:
    clock = Clock()
    (users,) = replicas(store, MemoryCache(), clock, count=1)
    await users.get(ADA.id)
    # Changed behind the cache's back (a stamp lost with Redis): seen within the max age.
    store.users[ADA.id] = replace(ADA, name="Grace")
    clock.now = 9.9
    assert (await users.get(ADA.id)).name == "Ada"  # type: ignore[union-attr]
    clock.now = 10.0
    assert (await users.get(ADA.id)).name == "Grace"  # type: ignore[union-attr]


async def test_a_stamp_written_while_a_read_was_under_way_is_not_hidden(
    store: CountingStore,
) -> None:
    """The read takes the stamp before the store: a write landing between the two leaves a
    stamp the copy does not carry, so the next read goes to the store."""
    stamps = MemoryCache()
    one, other = replicas(store, stamps, Clock())

    original_get = store.get

    async def get_racing_a_write(user_id: str) -> User | None:
        old = await original_get(user_id)
        await one.update(user_id, name="Grace")  # committed and stamped after the read
        return old

    store.get = get_racing_a_write  # type: ignore[method-assign]
    assert (await other.get(ADA.id)).name == "Ada"  # type: ignore[union-attr]
    store.get = original_get  # type: ignore[method-assign]
    assert (await other.get(ADA.id)).name == "Grace"  # type: ignore[union-attr]


async def test_unknown_users_are_not_kept_and_the_copies_are_bounded(
    store: CountingStore,
) -> None:
    users = CachedUserStore(store, MemoryCache(), max_users=2)
    assert await users.get("nobody") is None
    store.users["nobody"] = replace(ADA, id="nobody", email="n@example.com")
    assert await users.get("nobody") is not None
    for number in range(3):
        store.users[f"x{number}"] = replace(ADA, id=f"x{number}", email=f"x{number}@e.com")
        await users.get(f"x{number}")
    before = store.gets
    await users.get("nobody")  # evicted: least recently used of four, two kept
    assert store.gets == before + 1


def test_at_least_one_copy() -> None:
    with pytest.raises(ValueError, match="max_users"):
        CachedUserStore(FakeUserStore(), MemoryCache(), max_users=0)
