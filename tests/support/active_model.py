"""Which model running servers predict with: in-process replicas sharing a database (and a
Redis), and what they answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from domain.events import MODEL_ACTIVATIONS_CHANNEL
from domain.predictions import StoredModel
from domain.signals.model import TrainedModel
from tests.api.conftest import api_settings
from tests.support.graphql import data
from tests.support.models import TRAINED_AT
from tests.support.server import RunningServer, running_server

PREDICT = """
mutation { predict(input: {symbol: "AAPL"}) {
  __typename ... on Prediction { method modelVersion reasons { code } } } }
"""
MODEL_INFO = "{ modelInfo { version } }"
# As a setting: no interval check runs within a test, what reaches a server was announced.
NEVER = "3600"


async def prediction(server: RunningServer) -> dict[str, Any]:
    """A new prediction of AAPL from its stored history."""
    result: dict[str, Any] = data(await server.graphql(PREDICT))["predict"]
    assert result["__typename"] == "Prediction", result
    return result


async def answers_with(server: RunningServer, model: TrainedModel) -> bool:
    made = await prediction(server)
    return (made["method"], made["modelVersion"]) == ("MODEL", model.version)


async def active_version(server: RunningServer) -> str | None:
    """The version `modelInfo` reports."""
    info = data(await server.graphql(MODEL_INFO))["modelInfo"]
    return None if info is None else str(info["version"])


def stored(model: TrainedModel) -> StoredModel:
    """`model` as the store keeps it, for writing it there without announcing it."""
    return StoredModel(
        version=model.version,
        info=model.info.to_dict(),
        artifact=model.to_bytes(),
        active=True,
        created_at=TRAINED_AT,
    )


@asynccontextmanager
async def replicas(count: int, **settings: Any) -> AsyncIterator[list[RunningServer]]:
    """`count` servers in this process with the same settings (see api_settings)."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(running_server(api_settings(**settings)))
            for _ in range(count)
        ]


async def announcements_reach(redis_url: str, servers: int) -> bool:
    """Whether `servers` processes' subscriptions to the announcements are live."""
    client = aioredis.from_url(redis_url)
    try:
        counts = await client.pubsub_numsub(MODEL_ACTIVATIONS_CHANNEL)
    finally:
        await client.aclose()
    return sum(count for _, count in counts) >= servers
