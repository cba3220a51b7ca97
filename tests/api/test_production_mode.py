"""Production mode (STOCKQL_ENV=production) through HTTP and websockets on a real server:
introspection and GraphiQL off unless asked for, CORS and websocket origins from allowlists,
and the request limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from app.settings import Settings
from tests.api.conftest import api_settings
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer, running_server
from tests.support.ws import graphql_ws

SCHEMA_INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE_INTROSPECTION = '{ __type(name: "Quote") { fields { name } } }'
TYPENAME = "{ __typename }"
SYMBOLS = "{ symbols }"

APP_ORIGIN = "https://app.example"
FOREIGN_ORIGIN = "https://evil.example"
PREFLIGHT_HEADERS = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


def production_settings(pg_url: str, redis_url: str, **overrides: object) -> Settings:
    return api_settings(env="production", database_url=pg_url, redis_url=redis_url, **overrides)


@pytest.fixture
async def production(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    """Production with every optional setting left to its default."""
    async with running_server(production_settings(pg_url, redis_url)) as running:
        yield running


@pytest.fixture
async def production_with_origins(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    """Production that lets pages of APP_ORIGIN call the API and open websockets."""
    settings = production_settings(
        pg_url, redis_url, cors_allowed_origins=APP_ORIGIN, ws_allowed_origins=APP_ORIGIN
    )
    async with running_server(settings) as running:
        yield running


async def preflight(server: RunningServer, origin: str) -> httpx.Response:
    return await server.client.options("/graphql", headers={"origin": origin, **PREFLIGHT_HEADERS})


async def post_from(server: RunningServer, origin: str) -> httpx.Response:
    return await server.client.post(
        "/graphql",
        json={"query": SYMBOLS},
        headers={"origin": origin, "authorization": "Bearer not-checked-for-symbols"},
    )


def first_message(body: dict[str, Any]) -> str:
    message: str = body["errors"][0]["message"]
    return message


def introspection_refused(body: dict[str, Any]) -> bool:
    return (
        error_code(body) == "BAD_USER_INPUT"
        and "introspection" in first_message(body)
        and body.get("data") is None
    )


async def assert_origin_refused(server: RunningServer, origin: str) -> None:
    refused = await preflight(server, origin)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    answered = await post_from(server, origin)
    assert answered.status_code == 200
    # The query ran, but without this header the browser keeps the answer from the page.
    assert "access-control-allow-origin" not in answered.headers


@pytest.mark.parametrize("query", [SCHEMA_INTROSPECTION, TYPE_INTROSPECTION])
async def test_introspection_is_refused_in_production(
    production: RunningServer, query: str
) -> None:
    assert introspection_refused(await production.graphql(query))


async def test_typename_still_answers_in_production(production: RunningServer) -> None:
    assert data(await production.graphql(TYPENAME)) == {"__typename": "Query"}


async def test_graphiql_is_not_served_in_production(production: RunningServer) -> None:
    response = await production.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


async def test_introspection_and_graphiql_can_be_enabled_in_production(
    pg_url: str, redis_url: str
) -> None:
    settings = production_settings(pg_url, redis_url, introspection=True, graphiql=True)
    async with running_server(settings) as server:
        body = await server.graphql(SCHEMA_INTROSPECTION)
        assert data(body) == {"__schema": {"queryType": {"name": "Query"}}}
        fields = data(await server.graphql(TYPE_INTROSPECTION))["__type"]["fields"]
        assert {"name": "price"} in fields
        page = await server.client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()


async def test_introspection_can_be_disabled_outside_production(
    pg_url: str, redis_url: str
) -> None:
    settings = api_settings(database_url=pg_url, redis_url=redis_url, introspection=False)
    async with running_server(settings) as server:
        assert introspection_refused(await server.graphql(SCHEMA_INTROSPECTION))


async def test_production_allows_no_cross_origin_calls_by_default(
    production: RunningServer,
) -> None:
    await assert_origin_refused(production, APP_ORIGIN)


async def test_an_allowed_origin_passes_the_preflight_and_reads_answers(
    production_with_origins: RunningServer,
) -> None:
    allowed = await preflight(production_with_origins, APP_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert "access-control-allow-credentials" not in allowed.headers

    answered = await post_from(production_with_origins, APP_ORIGIN)
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in answered.headers["access-control-expose-headers"].lower()
    assert data(answered.json())["symbols"] == ["AAPL", "MSFT"]


async def test_an_origin_outside_the_allowlist_is_refused(
    production_with_origins: RunningServer,
) -> None:
    await assert_origin_refused(production_with_origins, FOREIGN_ORIGIN)


async def test_development_allows_pages_on_this_machine_only(pg_url: str, redis_url: str) -> None:
    settings = api_settings(env="development", database_url=pg_url, redis_url=redis_url)
    async with running_server(settings) as server:
        for local in ("http://localhost:5173", "http://127.0.0.1:8080"):
            allowed = await preflight(server, local)
            assert allowed.status_code == 200, local
            assert allowed.headers["access-control-allow-origin"] == local
        await assert_origin_refused(server, "http://localhost.evil.example")


async def test_a_websocket_from_an_allowed_origin_is_accepted(
    production_with_origins: RunningServer,
) -> None:
    async with graphql_ws(production_with_origins.base_url, origin=APP_ORIGIN) as ws:
        assert (await ws.init())["type"] == "connection_ack"


async def test_a_websocket_from_a_foreign_browser_origin_is_refused_in_production(
    production_with_origins: RunningServer,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with graphql_ws(production_with_origins.base_url, origin=FOREIGN_ORIGIN):
            pass
    assert refused.value.response.status_code == 403


async def test_a_chunked_body_over_the_limit_is_refused_with_413(
    production: RunningServer,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must count what arrives.
        yield b'{"query": "{ symbols }", "padding": "'
        for _ in range(20):
            yield b"x" * 64_000
        yield b'"}'

    response = await production.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_queries_deeper_than_the_limit_are_refused(pg_url: str, redis_url: str) -> None:
    settings = api_settings(database_url=pg_url, redis_url=redis_url, max_query_depth=1)
    async with running_server(settings) as server:
        shallow = '{ latestPrice(symbol: "AAPL") { price } }'
        assert data(await server.graphql(shallow))["latestPrice"]["price"] > 0
        deep = '{ history(symbol: "AAPL", limit: 1) { bars { close } } }'
        body = await server.graphql(deep)
        assert error_code(body) == "BAD_USER_INPUT"
        assert "depth" in first_message(body)


async def test_without_introspection_errors_suggest_no_field_names(
    production: RunningServer,
) -> None:
    body = await production.graphql("{ symbol }")
    assert error_code(body) == "BAD_USER_INPUT"
    assert "Did you mean" not in first_message(body)
    assert "Cannot query field 'symbol'" in first_message(body)
    enum = await production.graphql('{ history(symbol: "AAPL", interval: DAILYY) { symbol } }')
    assert "Did you mean" not in first_message(enum)


async def test_metrics_are_not_served_in_production_without_a_token(
    production: RunningServer,
) -> None:
    assert (await production.client.get("/metrics")).status_code == 404


async def test_metrics_in_production_need_the_token(pg_url: str, redis_url: str) -> None:
    token = "scraper-secret-" + "x" * 32
    settings = production_settings(pg_url, redis_url, metrics_token=token)
    async with running_server(settings) as server:
        anonymous = await server.client.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert "stockql_" not in anonymous.text
        wrong = await server.client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        scraped = await server.client.get("/metrics", headers={"authorization": f"Bearer {token}"})
        assert scraped.status_code == 200
        assert "stockql_graphql_requests_total" in scraped.text
