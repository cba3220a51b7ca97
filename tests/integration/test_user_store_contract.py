"""One contract for every UserStore: SQL on SQLite and PostgreSQL (both migrated to head),
MongoDB on the mongomock stand-in, and MongoDB on a real server when STOCKQL_TEST_MONGODB_URL
is set (no MongoDB server can run on the development machines or in CI).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from app.adapters.mongo_user_store import MongoUserStore, ensure_indexes, open_mongo_user_store
from app.adapters.sql.database import create_engine
from app.adapters.sql.user_store import SqlUserStore
from app.migrate import upgrade_database
from domain.users import MAX_WATCHLIST, EmailTaken, Role, User, UserStore, WatchlistFull
from tests.support.mongo_stand_in import MongoStandIn

# Whole milliseconds: MongoDB keeps dates to the millisecond, SQL to the microsecond.
CREATED_AT = datetime(2024, 3, 1, 12, 30, 15, 123_000, tzinfo=UTC)

ADA = User(
    id="0a11ce0a11ce0a11ce0a11ce0a11ce01",
    name="Ada Lovelace",
    email="Ada.Lovelace@Example.com",
    role=Role.ADMIN,
    password_hash="$argon2id$v=19$m=65536,t=3,p=4$ada",
    created_at=CREATED_AT,
    watchlist=("AAPL", "MSFT"),
)
GRACE = User(
    id="96ace96ace96ace96ace96ace96ace02",
    name="Grace Hopper",
    email="grace@example.com",
    role=Role.USER,
    password_hash="$argon2id$v=19$m=65536,t=3,p=4$grace",
    created_at=CREATED_AT + timedelta(days=1),
)

StoreOpener = Callable[[], AbstractAsyncContextManager[UserStore]]


@asynccontextmanager
async def sql_store(url: str) -> AsyncIterator[UserStore]:
    await asyncio.to_thread(upgrade_database, url)
    engine = create_engine(url)
    try:
        yield SqlUserStore(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def stand_in_store() -> AsyncIterator[UserStore]:
    collection = MongoStandIn()
    await ensure_indexes(collection)
    yield MongoUserStore(collection)


@asynccontextmanager
async def mongo_server_store(url: str) -> AsyncIterator[UserStore]:
    database = f"stockql_test_{uuid.uuid4().hex[:12]}"
    try:
        async with open_mongo_user_store(url, database=database) as store:
            yield store
    finally:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
        try:
            await client.drop_database(database)
        finally:
            await client.close()


@pytest.fixture(params=["sql-sqlite", "sql-postgresql", "mongo-stand-in", "mongo-server"])
def open_store(request: pytest.FixtureRequest) -> StoreOpener:
    if request.param == "sql-sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        return lambda: sql_store(f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}")
    if request.param == "sql-postgresql":
        pg_url: str = request.getfixturevalue("pg_url")
        return lambda: sql_store(pg_url)
    if request.param == "mongo-stand-in":
        return stand_in_store
    mongo_url = os.environ.get("STOCKQL_TEST_MONGODB_URL")
    if not mongo_url:
        pytest.skip("no MongoDB server: set STOCKQL_TEST_MONGODB_URL to run against one")
    return lambda: mongo_server_store(mongo_url)


@pytest.fixture
async def store(open_store: StoreOpener) -> AsyncIterator[UserStore]:
    async with open_store() as store:
        yield store


def symbols(count: int, *, prefix: str = "S") -> tuple[str, ...]:
    return tuple(f"{prefix}{number:03d}" for number in range(count))


def new_user(email: str) -> User:
    return replace(GRACE, id=uuid.uuid4().hex, email=email)


async def test_a_created_user_reads_back_by_id_and_by_email(store: UserStore) -> None:
    await store.create(ADA)

    by_id = await store.get(ADA.id)
    assert by_id == ADA
    assert await store.find_by_email(ADA.email) == ADA
    assert by_id is not None
    assert by_id.created_at.tzinfo is UTC
    assert by_id.role is Role.ADMIN
    assert by_id.watchlist == ("AAPL", "MSFT")


async def test_a_creation_time_in_another_zone_reads_back_as_the_same_instant_in_utc(
    store: UserStore,
) -> None:
    new_york = timezone(timedelta(hours=-5))
    await store.create(replace(GRACE, created_at=datetime(2024, 1, 8, 9, 30, tzinfo=new_york)))

    user = await store.get(GRACE.id)

    assert user is not None
    assert user.created_at == datetime(2024, 1, 8, 14, 30, tzinfo=UTC)
    assert user.created_at.tzinfo is UTC


async def test_find_by_email_ignores_case_and_surrounding_spaces(store: UserStore) -> None:
    await store.create(ADA)

    assert await store.find_by_email("  ada.lovelace@EXAMPLE.COM ") == ADA


async def test_unknown_ids_and_emails_find_nobody(store: UserStore) -> None:
    await store.create(ADA)

    assert await store.get(GRACE.id) is None
    assert await store.find_by_email(GRACE.email) is None


async def test_an_email_differing_only_in_case_is_taken_and_nothing_changes(
    store: UserStore,
) -> None:
    await store.create(ADA)
    twin = new_user(ADA.email.upper())

    with pytest.raises(EmailTaken):
        await store.create(twin)

    assert await store.get(twin.id) is None
    assert await store.find_by_email(ADA.email) == ADA


async def test_of_concurrent_creations_of_one_email_exactly_one_succeeds(
    store: UserStore,
) -> None:
    # Several emails, each created twice at once in different case, so the races really overlap.
    pairs = [
        (new_user(f"racer{n}@example.com"), new_user(f"RACER{n}@Example.COM")) for n in range(5)
    ]

    outcomes = await asyncio.gather(
        *(store.create(user) for pair in pairs for user in pair), return_exceptions=True
    )

    for index, (first, second) in enumerate(pairs):
        pair_outcomes = outcomes[2 * index : 2 * index + 2]
        assert sorted(type(outcome).__name__ for outcome in pair_outcomes) == [
            "EmailTaken",
            "NoneType",
        ]
        winner = first if pair_outcomes[0] is None else second
        loser = second if winner is first else first
        assert await store.get(winner.id) == winner
        assert await store.get(loser.id) is None
        assert await store.find_by_email(first.email) == winner


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("name", replace(ADA, name="Ada King")),
        ("email", replace(ADA, email="ada.king@example.com")),
        ("password_hash", replace(ADA, password_hash="$argon2id$v=19$m=65536,t=3,p=4$rehashed")),
    ],
    ids=["name", "email", "password_hash"],
)
async def test_update_changes_the_given_field_and_leaves_the_others(
    store: UserStore, field: str, expected: User
) -> None:
    await store.create(ADA)
    await store.create(GRACE)

    assert await store.update(ADA.id, **{field: getattr(expected, field)}) == expected

    assert await store.get(ADA.id) == expected
    assert await store.get(GRACE.id) == GRACE


async def test_update_of_all_fields_at_once(store: UserStore) -> None:
    await store.create(ADA)

    updated = await store.update(
        ADA.id, name="Ada King", email="ada.king@example.com", password_hash="$new"
    )

    expected = replace(ADA, name="Ada King", email="ada.king@example.com", password_hash="$new")
    assert updated == expected
    assert await store.get(ADA.id) == expected


async def test_update_of_no_field_returns_the_user_unchanged(store: UserStore) -> None:
    await store.create(ADA)

    assert await store.update(ADA.id) == ADA


async def test_a_changed_email_is_found_and_the_old_one_is_free(store: UserStore) -> None:
    await store.create(ADA)

    updated = await store.update(ADA.id, email="Countess@Example.com")

    assert await store.find_by_email("countess@example.com") == updated
    assert await store.find_by_email(ADA.email) is None
    await store.create(new_user(ADA.email))


async def test_a_user_may_change_the_case_of_their_own_email(store: UserStore) -> None:
    await store.create(ADA)

    updated = await store.update(ADA.id, email=ADA.email.lower())

    assert updated == replace(ADA, email=ADA.email.lower())


async def test_updating_to_an_email_another_user_has_raises_and_changes_nothing(
    store: UserStore,
) -> None:
    await store.create(ADA)
    await store.create(GRACE)

    with pytest.raises(EmailTaken):
        await store.update(GRACE.id, name="Someone Else", email=ADA.email.upper())

    assert await store.get(GRACE.id) == GRACE
    assert await store.find_by_email(ADA.email) == ADA


async def test_updating_a_missing_user_returns_none_and_creates_nobody(store: UserStore) -> None:
    assert await store.update(ADA.id, name="Nobody") is None
    assert await store.update(ADA.id) is None
    assert await store.get(ADA.id) is None


async def test_added_symbols_keep_their_order_and_duplicates_are_ignored(
    store: UserStore,
) -> None:
    await store.create(ADA)

    for symbol in ("TSLA", "AAPL", "GOOG", "TSLA"):
        returned = await store.add_to_watchlist(ADA.id, symbol)
        assert returned == await store.get(ADA.id)

    assert await store.get(ADA.id) == replace(ADA, watchlist=("AAPL", "MSFT", "TSLA", "GOOG"))


async def test_remove_takes_a_symbol_out_and_keeps_the_order_of_the_rest(
    store: UserStore,
) -> None:
    await store.create(replace(ADA, watchlist=("AAPL", "MSFT", "TSLA", "GOOG")))

    returned = await store.remove_from_watchlist(ADA.id, "MSFT")

    assert returned == replace(ADA, watchlist=("AAPL", "TSLA", "GOOG"))
    assert await store.get(ADA.id) == returned


async def test_removing_a_symbol_not_in_the_watchlist_changes_nothing(store: UserStore) -> None:
    await store.create(ADA)

    assert await store.remove_from_watchlist(ADA.id, "TSLA") == ADA
    assert await store.get(ADA.id) == ADA


async def test_watchlist_changes_of_a_missing_user_return_none(store: UserStore) -> None:
    assert await store.add_to_watchlist(ADA.id, "AAPL") is None
    assert await store.remove_from_watchlist(ADA.id, "AAPL") is None
    assert await store.get(ADA.id) is None


async def test_a_full_watchlist_refuses_another_symbol_and_stays_as_it_was(
    store: UserStore,
) -> None:
    full = replace(ADA, watchlist=symbols(MAX_WATCHLIST))
    await store.create(full)

    with pytest.raises(WatchlistFull):
        await store.add_to_watchlist(ADA.id, "ZZZ")

    assert await store.get(ADA.id) == full
    # A symbol already in a full list is no error: nothing needs to grow.
    assert await store.add_to_watchlist(ADA.id, "S000") == full


async def test_concurrent_adds_never_grow_a_watchlist_past_the_limit(store: UserStore) -> None:
    start = symbols(MAX_WATCHLIST - 5)
    await store.create(replace(ADA, watchlist=start))
    extra = symbols(20, prefix="X")

    outcomes = await asyncio.gather(
        *(store.add_to_watchlist(ADA.id, symbol) for symbol in extra), return_exceptions=True
    )

    added = [s for s, outcome in zip(extra, outcomes, strict=True) if isinstance(outcome, User)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, WatchlistFull)]
    assert (len(added), len(refused)) == (5, 15)
    user = await store.get(ADA.id)
    assert user is not None
    assert len(user.watchlist) == MAX_WATCHLIST
    assert user.watchlist[: len(start)] == start
    assert sorted(user.watchlist[len(start) :]) == added


async def test_concurrent_adds_below_the_limit_all_land(store: UserStore) -> None:
    await store.create(replace(ADA, watchlist=()))
    extra = symbols(20)

    await asyncio.gather(*(store.add_to_watchlist(ADA.id, symbol) for symbol in extra))

    user = await store.get(ADA.id)
    assert user is not None
    assert sorted(user.watchlist) == list(extra)


async def test_delete_removes_the_user_and_frees_the_email(store: UserStore) -> None:
    await store.create(ADA)
    await store.create(GRACE)

    assert await store.delete(ADA.id) is True

    assert await store.get(ADA.id) is None
    assert await store.find_by_email(ADA.email) is None
    assert await store.delete(ADA.id) is False
    assert await store.get(GRACE.id) == GRACE
    await store.create(new_user(ADA.email))


async def test_revoking_tokens_raises_the_generation_once_per_call_even_at_once(
    store: UserStore,
) -> None:
    await store.create(ADA)
    assert (await store.get(ADA.id)).token_generation == 0  # type: ignore[union-attr]
    revoked = await store.revoke_tokens(ADA.id)
    assert revoked is not None
    assert revoked.token_generation == 1
    await asyncio.gather(*(store.revoke_tokens(ADA.id) for _ in range(5)))
    again = await store.get(ADA.id)
    assert again is not None
    assert again.token_generation == 6
    assert again.email == ADA.email
    assert await store.revoke_tokens("nobody") is None
