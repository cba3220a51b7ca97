"""A model activated anywhere reaches every running server without a restart: announced on
the event bus (at once), and found by the interval check when the announcement is missed
(another process on the embedded in-process bus; Redis down: see tests/faults)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from app.adapters.sql.model_store import SqlModelStore
from app.runtime import open_runtime
from domain.predictions import StoredModel
from tests.api.conftest import api_settings
from tests.support.active_model import (
    NEVER,
    active_version,
    announcements_reach,
    answers_with,
    prediction,
    replicas,
    stored,
)
from tests.support.models import TRAINED_AT, small_model
from tests.support.waiting import eventually

# Announcements arrive in milliseconds; the rest is room for a loaded machine.
ANNOUNCED_WITHIN = 5.0
CHECK_SECONDS = "0.5"
CHECKED_WITHIN = 10.0


async def test_a_model_activated_on_one_replica_is_predicted_with_by_every_replica(
    pg_url: str, redis_url: str
) -> None:
    async with replicas(2, database_url=pg_url, redis_url=redis_url, model_check_seconds=NEVER) as (
        first,
        second,
    ):
        await eventually(lambda: announcements_reach(redis_url, 2))
        assert [(await prediction(s))["method"] for s in (first, second)] == ["RULES", "RULES"]
        model = small_model(1)
        # What `stockql train` and the worker's retraining do (app/training.py).
        await first.app.state.runtime.services.models.save_model(model)
        for server in (first, second):
            await eventually(partial(answers_with, server, model), within=ANNOUNCED_WITHIN)
            assert await active_version(server) == model.version
        newer = small_model(2)
        await second.app.state.runtime.services.models.save_model(newer)
        for server in (first, second):
            await eventually(partial(answers_with, server, newer), within=ANNOUNCED_WITHIN)


async def test_a_model_activated_without_an_announcement_is_found_by_the_interval_check(
    pg_url: str, redis_url: str
) -> None:
    async with replicas(
        1, database_url=pg_url, redis_url=redis_url, model_check_seconds=CHECK_SECONDS
    ) as (server,):
        model = small_model(3)
        await SqlModelStore(server.app.state.runtime.engine).save(stored(model), activate=True)
        await eventually(lambda: answers_with(server, model), within=CHECKED_WITHIN)
        metrics = (await server.client.get("/metrics")).text
        assert f'stockql_active_model_info{{version="{model.version}"}} 1.0' in metrics


async def test_on_the_embedded_default_a_model_trained_by_another_process_is_used(
    tmp_path: Path,
) -> None:
    """SQLite, the in-process bus and the worker jobs inside `serve`: the announcement of
    another process (here a second runtime, as `stockql train` opens one) cannot arrive,
    the interval check finds the model."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}"
    settings = {"database_url": url, "worker_in_process": True}
    async with replicas(1, **settings, model_check_seconds=CHECK_SECONDS) as (server,):
        assert (await prediction(server))["method"] == "RULES"
        model = small_model(4)
        async with open_runtime(api_settings(**settings, model_check_seconds=NEVER)) as other:
            await other.services.models.save_model(model)
        await eventually(lambda: answers_with(server, model), within=CHECKED_WITHIN)
        assert await active_version(server) == model.version


async def test_an_active_model_that_cannot_be_loaded_leaves_the_rules_saying_so(
    pg_url: str, redis_url: str
) -> None:
    async with replicas(
        1, database_url=pg_url, redis_url=redis_url, model_check_seconds=CHECK_SECONDS
    ) as (server,):
        broken = StoredModel(
            version="broken-1",
            info=small_model().info.to_dict() | {"version": "broken-1"},
            artifact=b"not a model",
            active=True,
            created_at=TRAINED_AT,
        )
        await SqlModelStore(server.app.state.runtime.engine).save(broken, activate=True)

        async def says_unloadable() -> bool:
            made = await prediction(server)
            return made["method"] == "RULES" and any(
                r["code"] == "MODEL_FALLBACK_UNLOADABLE" for r in made["reasons"]
            )

        await eventually(says_unloadable, within=CHECKED_WITHIN)


@pytest.mark.parametrize("seconds", ["0", "-1"])
def test_a_check_interval_must_be_positive(seconds: str) -> None:
    with pytest.raises(ValueError, match="model_check_seconds"):
        api_settings(model_check_seconds=seconds)
