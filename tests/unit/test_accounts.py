"""AccountService with an in-memory user store, real hashing (cheap) and real tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.adapters.login_attempts import MemoryLoginAttempts
from app.adapters.rate_limiter import MemoryRateLimiter
from domain.accounts import AccountLimits, AccountService, EmailAlreadyUsed, InvalidCredentials
from domain.errors import InvalidInput, RateLimited, Unauthenticated, ValidationFailed
from domain.login_throttle import LoginPolicy
from domain.passwords import PasswordHasher
from domain.tokens import TokenIssuer
from domain.users import Role
from tests.support.fakes import FakeUserStore

SECRET = "unit-test-secret-with-enough-bytes-0123456789"
PASSWORD = "correct horse battery"


class CountingHasher(PasswordHasher):
    def __init__(self, **costs: int) -> None:
        super().__init__(time_cost=costs.get("time_cost", 1), memory_cost=1024, parallelism=1)
        self.dummy_checks = 0

    async def verify_dummy(self, password: str) -> None:
        self.dummy_checks += 1
        await super().verify_dummy(password)


@pytest.fixture
def store() -> FakeUserStore:
    return FakeUserStore()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


def service(store: FakeUserStore, hasher: PasswordHasher, **limits: int) -> AccountService:
    known = {"AAPL", "MSFT"}

    async def symbol_exists(symbol: str) -> bool:
        return symbol in known

    return AccountService(
        store=store,
        hasher=hasher,
        tokens=TokenIssuer(secret=SECRET, lifetime=timedelta(hours=1)),
        limiter=MemoryRateLimiter(),
        login_attempts=MemoryLoginAttempts(),
        login_policy=LoginPolicy(free_failures=limits.pop("free_failures", 5)),
        limits=AccountLimits(**limits),
        symbol_exists=symbol_exists,
    )


async def test_register_stores_a_hash_not_the_password(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    session = await service(store, hasher).register(
        name="Ada", email="Ada@Example.com", password=PASSWORD, client="1.2.3.4"
    )
    stored = store.users[session.user.id]
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert stored.role is Role.USER
    assert PASSWORD not in repr(stored)


async def test_login_with_an_unknown_email_still_checks_a_password(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    with pytest.raises(InvalidCredentials):
        await service(store, hasher).login(
            email="nobody@example.com", password=PASSWORD, client="x"
        )
    assert hasher.dummy_checks == 1


async def test_a_deleted_users_token_no_longer_authenticates(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    accounts = service(store, hasher)
    admin = await accounts.create_admin(name="Root", email="root@example.com", password=PASSWORD)
    session = await accounts.login(email="root@example.com", password=PASSWORD, client="x")
    await store.delete(admin.id)
    with pytest.raises(Unauthenticated):
        await accounts.authenticate(session.token)


async def test_authenticate_refuses_garbage(store: FakeUserStore, hasher: CountingHasher) -> None:
    with pytest.raises(Unauthenticated):
        await service(store, hasher).authenticate("not-a-token")


async def test_duplicate_email_in_other_case_is_refused(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    accounts = service(store, hasher)
    await accounts.register(name="A", email="a@example.com", password=PASSWORD, client="x")
    with pytest.raises(EmailAlreadyUsed):
        await accounts.register(name="B", email="A@EXAMPLE.COM", password=PASSWORD, client="y")
    assert len(store.users) == 1


async def test_login_rehashes_when_the_cost_changed(store: FakeUserStore) -> None:
    await service(store, CountingHasher(time_cost=1)).register(
        name="A", email="a@example.com", password=PASSWORD, client="x"
    )
    accounts = service(store, CountingHasher(time_cost=2))
    await accounts.login(email="a@example.com", password=PASSWORD, client="x")
    (user,) = store.users.values()
    assert "t=2" in user.password_hash


async def test_failed_logins_slow_that_address_for_that_email_only(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    accounts = service(store, hasher, free_failures=2)
    await accounts.register(name="A", email="a@example.com", password=PASSWORD, client="y")
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await accounts.login(email="a@example.com", password="wrong pass", client="x")
    # The email key, not its spelling, is counted; the right password waits too.
    with pytest.raises(RateLimited) as limited:
        await accounts.login(email="A@example.com", password=PASSWORD, client="x")
    assert limited.value.retry_after_seconds >= 1
    # The owner, from another address, is not locked out.
    session = await accounts.login(email="a@example.com", password=PASSWORD, client="y")
    assert session.user.email == "a@example.com"


async def test_update_with_a_wrong_current_password_changes_nothing(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    accounts = service(store, hasher)
    session = await accounts.register(
        name="A", email="a@example.com", password=PASSWORD, client="x"
    )
    with pytest.raises(InvalidCredentials):
        await accounts.update_profile(
            session.user, name="B", password="new password!", current_password="wrong one"
        )
    assert store.users[session.user.id] == session.user


async def test_update_reports_every_bad_field(store: FakeUserStore, hasher: CountingHasher) -> None:
    accounts = service(store, hasher)
    session = await accounts.register(
        name="A", email="a@example.com", password=PASSWORD, client="x"
    )
    with pytest.raises(ValidationFailed) as failed:
        await accounts.update_profile(session.user, name="", email="nope", password="short")
    assert [p.field for p in failed.value.problems] == [
        "name",
        "email",
        "password",
        "currentPassword",
    ]


async def test_watchlist_refuses_unknown_symbols(
    store: FakeUserStore, hasher: CountingHasher
) -> None:
    accounts = service(store, hasher)
    session = await accounts.register(
        name="A", email="a@example.com", password=PASSWORD, client="x"
    )
    with pytest.raises(InvalidInput):
        await accounts.add_to_watchlist(session.user, "IBM")
    user = await accounts.add_to_watchlist(session.user, "aapl")
    assert user.watchlist == ("AAPL",)
