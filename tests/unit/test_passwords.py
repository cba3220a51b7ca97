from __future__ import annotations

import logging

import argon2
import pytest

from domain.passwords import PasswordHasher

# Cheap parameters: the tests check behaviour, not cost.
CHEAP = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(**CHEAP)


async def test_a_hash_verifies_with_its_password(hasher: PasswordHasher) -> None:
    password_hash = await hasher.hash(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert await hasher.verify(password_hash, PASSWORD)


async def test_a_wrong_password_does_not_verify(hasher: PasswordHasher) -> None:
    password_hash = await hasher.hash(PASSWORD)

    assert not await hasher.verify(password_hash, PASSWORD + "!")
    assert not await hasher.verify(password_hash, "")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=8,t=1,p=1$",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$!!!!",
        "$2b$12$abcdefghijklmnopqrstuuJ3Gx8aVd8vT7ZSx6dBfP3m3A0hJ9hFK",
        "$argon2id$v=19$m=8,t=1,p=1$sälz$hash",
    ],
)
async def test_an_unreadable_hash_does_not_verify(hasher: PasswordHasher, garbage: str) -> None:
    assert not await hasher.verify(garbage, PASSWORD)


async def test_the_same_password_hashes_differently_each_time(hasher: PasswordHasher) -> None:
    first, second = await hasher.hash(PASSWORD), await hasher.hash(PASSWORD)

    assert first != second
    assert await hasher.verify(first, PASSWORD)
    assert await hasher.verify(second, PASSWORD)


async def test_unencodable_passwords_hash_and_verify(hasher: PasswordHasher) -> None:
    # A lone surrogate can arrive through a JSON "\ud800" escape; it must not raise.
    password = "p\ud800ss\x00word é"
    password_hash = await hasher.hash(password)

    assert await hasher.verify(password_hash, password)
    assert not await hasher.verify(password_hash, "p\ud801ss\x00word é")


async def test_a_hash_made_with_the_current_parameters_needs_no_rehash(
    hasher: PasswordHasher,
) -> None:
    assert not hasher.needs_rehash(await hasher.hash(PASSWORD))


@pytest.mark.parametrize(
    "changed", [{"time_cost": 2}, {"memory_cost": 16}, {"parallelism": 2, "memory_cost": 16}]
)
async def test_a_hash_needs_rehash_after_the_parameters_change(
    hasher: PasswordHasher, changed: dict[str, int]
) -> None:
    password_hash = await hasher.hash(PASSWORD)
    stronger = PasswordHasher(**(CHEAP | changed))

    assert stronger.needs_rehash(password_hash)
    # The old hash still verifies, so the user can log in and be rehashed.
    assert await stronger.verify(password_hash, PASSWORD)


def test_an_unreadable_hash_needs_rehash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("not a hash")


async def test_verify_dummy_runs_a_real_argon2_verification(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[bytes] = []
    real_verify = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        assert isinstance(hash, bytes)
        verified.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)

    await hasher.verify_dummy(PASSWORD)
    await hasher.verify_dummy("another guess")

    assert len(verified) == 2
    # One fixed dummy hash, made with the hasher's own parameters so it costs the same.
    assert verified[0] == verified[1]
    assert not hasher.needs_rehash(verified[0].decode())


async def test_nothing_logs_the_password(
    hasher: PasswordHasher, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        password_hash = await hasher.hash(PASSWORD)
        await hasher.verify(password_hash, PASSWORD)
        await hasher.verify("garbage", PASSWORD)
        await hasher.verify_dummy(PASSWORD)

    assert PASSWORD not in caplog.text


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        PasswordHasher(**CHEAP, max_concurrent=0)
