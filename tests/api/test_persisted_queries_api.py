"""Automatic Persisted Queries, GET and ETags through the HTTP API (Apollo's protocol, as
Apollo Client and urql send it), on PostgreSQL + Redis (documents in Redis) and on the
embedded defaults (in memory); and the trusted documents mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import api_settings
from tests.support.graphql import data, error_code, replayed
from tests.support.server import RunningServer, running_server
from tests.support.services import service_settings
from tests.support.ws import LEGACY_WS, TRANSPORT_WS, graphql_ws

SYMBOLS = "query Symbols { symbols }"
LATEST = 'query Latest { latestPrice(symbol: "AAPL") { symbol } }'
PRICES = 'subscription { stockPrice(symbol: "AAPL") { price } }'
CLEAR = 'mutation { clearCache(symbol: "AAPL") { keysRemoved } }'


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


@pytest.fixture(params=["redis", "embedded"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        service_settings(request.param, tmp_path) as services,
        running_server(api_settings(**services)) as running,
    ):
        yield running


async def post(server: RunningServer, body: dict[str, Any]) -> httpx.Response:
    return await server.client.post("/graphql", json=body)


async def get(
    server: RunningServer, headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await server.client.get("/graphql", params=encoded, headers=headers)


async def test_an_unknown_hash_is_not_found_then_registered_with_its_query(
    server: RunningServer,
) -> None:
    unknown = await post(server, {"extensions": persisted(SYMBOLS)})
    assert unknown.status_code == 200
    assert error_code(unknown.json()) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.headers["cache-control"] == "private, no-cache, must-revalidate"
    registered = await post(server, {"query": SYMBOLS, "extensions": persisted(SYMBOLS)})
    assert data(registered.json()) == {"symbols": ["AAPL", "MSFT"]}
    by_hash = await post(server, {"extensions": persisted(SYMBOLS)})
    assert data(by_hash.json()) == {"symbols": ["AAPL", "MSFT"]}
    over_get = await get(server, extensions=persisted(SYMBOLS))
    assert over_get.status_code == 200
    assert data(over_get.json()) == {"symbols": ["AAPL", "MSFT"]}


async def test_a_query_whose_hash_does_not_match_is_refused_and_not_registered(
    server: RunningServer,
) -> None:
    lying = {"query": LATEST, "extensions": persisted(SYMBOLS)}
    refused = await post(server, lying)
    assert refused.status_code == 400
    assert error_code(refused.json()) == "BAD_USER_INPUT"
    assert "does not match" in refused.json()["errors"][0]["message"]
    later = await post(server, {"extensions": persisted(SYMBOLS)})
    assert error_code(later.json()) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "short"}},
        {"persistedQuery": {"version": 1}},
        {"persistedQuery": "not an object"},
    ],
)
async def test_malformed_persisted_queries_are_bad_user_input(
    server: RunningServer, extension: dict[str, Any]
) -> None:
    response = await post(server, {"extensions": extension})
    assert response.status_code == 400
    assert error_code(response.json()) == "BAD_USER_INPUT"


async def test_queries_run_over_get_and_mutations_do_not(server: RunningServer) -> None:
    query = await get(server, query=LATEST)
    assert data(query.json())["latestPrice"]["symbol"] == "AAPL"
    again = await get(server, query=LATEST)
    assert replayed(again.json())  # GET goes through the response cache too
    mutation = await get(server, query=CLEAR)
    assert mutation.status_code == 400
    assert "mutations are not allowed when using GET" in mutation.text


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unchanged_result_is_not_modified_for_a_client_that_holds_it(
    server: RunningServer, method: str
) -> None:
    async def send(headers: dict[str, str] | None = None) -> httpx.Response:
        if method == "GET":
            return await get(server, headers, query=SYMBOLS)
        return await server.client.post("/graphql", json={"query": SYMBOLS}, headers=headers)

    first = await send()
    tag = first.headers["etag"]
    for _ in range(2):  # executed (after a miss) or replayed, the same tag
        response = await send({"if-none-match": tag})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == tag
    changed = await send({"if-none-match": '"something else"'})
    assert changed.status_code == 200
    assert changed.headers["etag"] == tag


async def test_an_executed_result_is_not_modified_when_it_equals_what_the_client_holds(
    server: RunningServer,
) -> None:
    first = await post(server, {"query": SYMBOLS})
    # another spelling of the same query is a cache miss: it runs, and its bytes are the same
    response = await server.client.post(
        "/graphql", json={"query": "{ symbols }"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == first.headers["etag"]
    assert not replayed((await post(server, {"query": "{ symbols\n}"})).json())


async def test_with_trusted_documents_only_those_run(tmp_path: Path) -> None:
    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({sha256(SYMBOLS): SYMBOLS}))
    settings = api_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stockql.db'}", trusted_documents=manifest
    )
    async with running_server(settings) as trusted:
        by_hash = await post(trusted, {"extensions": persisted(SYMBOLS)})
        assert data(by_hash.json()) == {"symbols": ["AAPL", "MSFT"]}
        in_full = await post(trusted, {"query": SYMBOLS})
        assert data(in_full.json()) == {"symbols": ["AAPL", "MSFT"]}
        for body in (
            {"query": LATEST},
            {"query": LATEST, "extensions": persisted(LATEST)},  # no registering either
            {"extensions": persisted(LATEST)},
        ):
            response = await post(trusted, body)
            assert response.status_code == 400, body
            assert error_code(response.json()) == "PERSISTED_QUERY_NOT_TRUSTED", body
        assert error_code((await get(trusted, query=LATEST)).json()) == (
            "PERSISTED_QUERY_NOT_TRUSTED"
        )
        for protocol in (TRANSPORT_WS, LEGACY_WS):
            async with graphql_ws(trusted.base_url, protocol=protocol) as ws:
                await ws.init()
                refused = await ws.next_payload(await ws.subscribe(PRICES))
                assert refused["errors"][0]["extensions"]["code"] == (
                    "PERSISTED_QUERY_NOT_TRUSTED"
                ), protocol


def test_a_manifest_whose_hash_does_not_match_its_document_stops_the_start(
    tmp_path: Path,
) -> None:
    from app.main import create_app
    from app.persisted_queries import TrustedDocumentsError

    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({sha256(SYMBOLS): LATEST}))
    settings = api_settings(database_url="sqlite+aiosqlite://", trusted_documents=manifest)
    with pytest.raises(TrustedDocumentsError, match="not the hash of its document"):
        create_app(settings)
