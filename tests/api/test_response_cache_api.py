"""The response cache through the HTTP API, on PostgreSQL + Redis (entries in Redis) and on
the embedded defaults (entries in memory): a repeated public query is answered whole from
the cache and says so; nothing about a user is ever shared; no answer is older than the
last price event of the symbol it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import api_settings
from tests.support.accounts import bearer, signed_up
from tests.support.graphql import data, error_code, replayed
from tests.support.metrics import scrape
from tests.support.server import RunningServer, running_server
from tests.support.services import service_settings
from tests.support.ws import graphql_ws

LATEST = 'query Latest { latestPrice(symbol: "AAPL") { price timestamp } }'
ME = "query Me { symbols me { email } }"
PRICES = 'subscription { stockPrice(symbol: "AAPL") { price timestamp } }'


@pytest.fixture(params=["redis", "embedded"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningServer]:
    """The app with its worker in process (prices every 0.25 s), entries in Redis or memory."""
    async with service_settings(request.param, tmp_path) as services:
        settings = api_settings(**services, worker_in_process=True, simulator_tick_seconds=0.25)
        async with running_server(settings) as running:
            yield running


async def post(
    server: RunningServer, query: str, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, dict[str, Any]]:
    response = await server.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return response, body


def max_age(response: httpx.Response) -> int:
    scope, age = response.headers["cache-control"].split(", max-age=")
    assert scope == "public"
    return int(age)


async def test_a_repeated_public_query_is_answered_from_the_cache_and_says_so(
    server: RunningServer,
) -> None:
    before = await scrape(server.client)
    answers: list[tuple[httpx.Response, dict[str, Any]]] = []
    # A price event between two requests rightly makes the second one execute again.
    while not any(replayed(body) for _, body in answers) and len(answers) < 20:
        answers.append(await post(server, LATEST))
    executed = [(response, body) for response, body in answers if not replayed(body)]
    hits = [(response, body) for response, body in answers if replayed(body)]
    assert len(hits) == 1
    assert all(max_age(response) == 5 for response, _ in executed)  # latestPrice's hint
    (hit, hit_body), (_, stored_body) = hits[0], executed[-1]
    assert 1 <= max_age(hit) <= 5  # what the entry has left
    assert data(hit_body) == data(stored_body)
    after = await scrape(server.client)

    def added(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert added("stockql_response_cache_total", outcome="hit") == 1
    # A hit is still an operation for the metrics, as executed ones are.
    labels = {"operation_name": "Latest", "operation_type": "query"}
    assert added("stockql_graphql_requests_total", **labels) == len(answers)


async def test_what_a_user_sees_of_themselves_is_never_shared(server: RunningServer) -> None:
    first_token, first_user = await signed_up(server)
    second_token, second_user = await signed_up(server)
    for token, user in [(first_token, first_user), (second_token, second_user)] * 2:
        response, body = await post(server, ME, headers=bearer(token))
        assert data(body)["me"]["email"] == user["email"]
        assert not replayed(body)
        assert response.headers["cache-control"] == "no-store"
    response, body = await post(server, ME)
    assert data(body)["me"] is None
    assert not replayed(body)


async def test_errors_and_mutations_are_not_stored(server: RunningServer) -> None:
    unknown = '{ latestPrice(symbol: "ZZZZ") { price } }'
    for _ in range(2):
        response, body = await post(server, unknown)
        assert error_code(body) == "NOT_FOUND"
        assert response.headers["cache-control"] == "no-store"
        assert not replayed(body)
    response, body = await post(server, 'mutation { clearCache(symbol: "AAPL") { keysRemoved } }')
    assert error_code(body) == "UNAUTHENTICATED"
    assert response.headers["cache-control"] == "no-store"


async def test_no_answer_is_older_than_the_last_price_a_subscriber_was_sent(
    server: RunningServer,
) -> None:
    replays = 0
    async with graphql_ws(server.base_url) as ws:
        await ws.init()
        operation = await ws.subscribe(PRICES)
        for _ in range(8):
            sent = (await ws.next_payload(operation))["data"]["stockPrice"]
            for _ in range(3):
                _, body = await post(server, LATEST)
                answered = data(body)["latestPrice"]
                assert timestamp(answered) >= timestamp(sent), (answered, sent)
                replays += replayed(body)
    assert replays > 0  # the cache did answer between prices


def timestamp(quote: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(quote["timestamp"])


async def test_a_response_is_kept_no_longer_than_the_data_it_shows_stays_fresh(
    tmp_path: Path,
) -> None:
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}",
        daily_ttl_seconds=3,
        quote_ttl_seconds=2,
    )
    history = '{ history(symbol: "AAPL", limit: 2) { stale fetchedAt } }'
    async with running_server(settings) as fresh_briefly:
        response, body = await post(fresh_briefly, history)
        assert data(body)["history"]["stale"] is False
        assert max_age(response) <= 3  # not history's 60 s: the bars are due in 3 s
        response, _ = await post(fresh_briefly, LATEST)
        assert max_age(response) == 2  # not latestPrice's 5 s
