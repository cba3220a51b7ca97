"""SqlModelStore on SQLite and PostgreSQL (both migrated to head)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.model_store import MODELS, SqlModelStore
from domain.predictions import StoredModel

NOW = datetime(2024, 6, 3, 15, 0, 7, 123_456, tzinfo=UTC)
TRAINED_AT = datetime(2024, 6, 3, 14, 2, 0, tzinfo=UTC)
# Random bytes include every byte value (NUL too), in a size like a real skops artifact.
ARTIFACT = random.Random(4).randbytes(3 * 1024 * 1024)


def info(version: str) -> dict[str, Any]:
    """A card shaped like ModelInfo.to_dict(): nested values, floats, lists and None."""
    return {
        "version": version,
        "algorithm": "gradient_boosting",
        "trained_at": TRAINED_AT.isoformat(),
        "params": {"max_depth": 3, "learning_rate": 0.1},
        "feature_names": ["rsi14", "macd_histogram"],
        "class_priors": {"BUY": 1 / 3, "HOLD": 0.5, "SELL": 1 / 6},
        "metrics": {"accuracy": 0.4125, "note": None},
    }


def model(version: str, *, artifact: bytes = b"skops\x00bytes", minutes: int = 0) -> StoredModel:
    return StoredModel(
        version=version,
        info=info(version),
        artifact=artifact,
        active=False,
        created_at=NOW + timedelta(minutes=minutes),
    )


@pytest.fixture
def store(engine: AsyncEngine) -> SqlModelStore:
    return SqlModelStore(engine)


async def active_versions(engine: AsyncEngine) -> list[str]:
    query = select(MODELS.c.version).where(MODELS.c.active.is_(True))
    async with engine.connect() as connection:
        return list((await connection.execute(query)).scalars())


async def test_a_saved_model_reads_back_equal_with_its_artifact(store: SqlModelStore) -> None:
    saved = model("m1", artifact=ARTIFACT)
    await store.save(saved, activate=False)

    read = await store.get("m1")
    assert read == saved
    assert read is not None
    assert read.artifact == ARTIFACT


async def test_save_copies_algorithm_and_trained_at_from_the_card_into_columns(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=False)
    query = select(MODELS.c.algorithm, MODELS.c.trained_at)
    async with engine.connect() as connection:
        row = (await connection.execute(query)).one()
    assert (row.algorithm, row.trained_at) == ("gradient_boosting", TRAINED_AT)


async def test_save_refuses_a_card_without_trained_at(store: SqlModelStore) -> None:
    card = model("m1")
    del card.info["trained_at"]
    with pytest.raises(ValueError, match="trained_at"):
        await store.save(card, activate=False)
    assert await store.get("m1") is None


async def test_saving_a_version_twice_is_refused(store: SqlModelStore) -> None:
    await store.save(model("m1"), activate=True)
    with pytest.raises(IntegrityError):
        await store.save(model("m1", minutes=1), activate=True)
    assert await store.active() == dataclasses.replace(model("m1"), active=True)


async def test_get_of_an_unknown_version_is_none(store: SqlModelStore) -> None:
    await store.save(model("m1"), activate=True)
    assert await store.get("nope") is None


async def test_no_model_is_active_at_first(store: SqlModelStore) -> None:
    await store.save(model("m1"), activate=False)
    assert await store.active() is None


async def test_active_version_follows_saves_and_activations(store: SqlModelStore) -> None:
    assert await store.active_version() is None
    await store.save(model("m1"), activate=False)
    assert await store.active_version() is None
    await store.save(model("m2"), activate=True)
    assert await store.active_version() == "m2"
    assert await store.activate("m1") is True
    assert await store.active_version() == "m1"


async def test_saving_with_activate_makes_it_the_only_active_model(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=True)
    await store.save(model("m2", minutes=1), activate=True)

    active = await store.active()
    assert active is not None
    assert (active.version, active.active) == ("m2", True)
    first = await store.get("m1")
    assert first is not None
    assert first.active is False
    assert await active_versions(engine) == ["m2"]


async def test_saving_without_activate_keeps_the_active_model(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=True)
    await store.save(model("m2", minutes=1), activate=False)
    assert await active_versions(engine) == ["m1"]


async def test_activate_switches_the_active_model(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=True)
    await store.save(model("m2"), activate=False)

    assert await store.activate("m2") is True
    assert await active_versions(engine) == ["m2"]
    assert await store.activate("m1") is True
    assert await active_versions(engine) == ["m1"]


async def test_activating_the_active_model_again_keeps_it_active(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=True)
    assert await store.activate("m1") is True
    assert await active_versions(engine) == ["m1"]


async def test_activating_an_unknown_version_is_false_and_changes_nothing(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=True)
    assert await store.activate("missing") is False
    assert await active_versions(engine) == ["m1"]


async def test_racing_activations_leave_exactly_one_active_model(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    versions = [f"m{n}" for n in range(6)]
    for version in versions:
        await store.save(model(version), activate=False)

    results = await asyncio.gather(*(store.activate(v) for v in versions * 3))

    assert all(results)
    assert len(await active_versions(engine)) == 1


async def test_racing_saves_with_activate_leave_exactly_one_active_model(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("old"), activate=True)

    await asyncio.gather(
        *(store.save(model(f"m{n}"), activate=True) for n in range(6)),
        *(store.activate("old") for _ in range(3)),
    )

    assert len(await active_versions(engine)) == 1


async def test_the_database_refuses_a_second_active_model_whatever_writes_it(
    engine: AsyncEngine, store: SqlModelStore
) -> None:
    await store.save(model("m1"), activate=True)
    await store.save(model("m2"), activate=False)
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(
                update(MODELS).where(MODELS.c.version == "m2").values(active=True)
            )
    assert await active_versions(engine) == ["m1"]
