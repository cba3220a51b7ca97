"""`stockql train` against the database and Redis of two running `stockql serve` replicas:
both predict with the new model within seconds, without a restart, through the announcement
on the event bus (their interval check is an hour away)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.graphql import data
from tests.support.processes import (
    StockqlProcess,
    run_stockql,
    running_stockql,
    running_stockqls,
    stockql_env,
    throwaway_redis,
)
from tests.support.server import free_port
from tests.support.services import postgres_database
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(600)

PREDICT = """
mutation { predict(input: {symbol: "AAPL"}) {
  __typename ... on Prediction { method modelVersion } } }
"""
MODEL_INFO = "{ modelInfo { version algorithm } }"
# Ten years of two simulated symbols, one candidate, few refits: a minute or so when the
# machine is busy.
TRAIN = ("train", "--algorithms", "logistic_regression", "--refit-every", "500")
TRAIN_WITHIN = 400.0
# A server's first model load imports scikit-learn and skops (about 5 s here, far more on a
# busy machine). The interval check is an hour away, so whatever arrives was announced.
ANNOUNCED_WITHIN = 90.0


async def predicted_with(server: StockqlProcess) -> tuple[str, str | None]:
    made: dict[str, Any] = data(await server.graphql(PREDICT))["predict"]
    assert made["__typename"] == "Prediction", made
    return made["method"], made["modelVersion"]


async def test_both_replicas_predict_with_the_model_stockql_train_activated(
    tmp_path: Path,
) -> None:
    async with postgres_database() as database_url, throwaway_redis(tmp_path) as redis:
        shared = {"database_url": database_url, "redis_url": redis.url}
        # Anonymous predictions are rate limited per address: this test asks often.
        servers = {"model_check_seconds": "3600", "predict_limit_per_address": "100000"}
        servers |= shared | {"log_level": "info"}
        first = stockql_env(**servers, port=str(free_port()), migrate_on_start="true")
        second = stockql_env(**servers, port=str(free_port()))
        async with (
            running_stockql("serve", first, directory=tmp_path) as migrated,
            running_stockqls([("serve", second)], directory=tmp_path) as (other,),
        ):
            replicas = (migrated, other)
            assert [await predicted_with(s) for s in replicas] == [("RULES", None)] * 2

            status, output = await run_stockql(
                TRAIN, stockql_env(**shared), directory=tmp_path, within=TRAIN_WITHIN
            )
            assert status == 0, output
            info = data(await migrated.graphql(MODEL_INFO))["modelInfo"]
            assert info["algorithm"] == "logistic_regression"
            assert f"model {info['version']}" in output

            async def both_use_it() -> bool:
                answers = await asyncio.gather(*(predicted_with(s) for s in replicas))
                return all(answer == ("MODEL", info["version"]) for answer in answers)

            await eventually(both_use_it, within=ANNOUNCED_WITHIN, every=0.2)
            for server in replicas:
                assert data(await server.graphql(MODEL_INFO))["modelInfo"] == info
