"""The operation cost budget (STOCKQL_MAX_QUERY_COST, graphql_schema/query_cost.py) through the
real server on PostgreSQL + Redis: over HTTP and websockets, with literals, variables,
aliases and fragments; refused before any resolver runs, with the cost and the limit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api_settings
from tests.support.graphql import data, first_error
from tests.support.metrics import scrape
from tests.support.server import RunningServer, running_server
from tests.support.ws import graphql_ws

WEB = Path(__file__).resolve().parents[2] / "web" / "src"
INDICATORS = "sma { value } ema { value } rsi { value } macd { macd } bollinger { upper }"
# The audit's request: 30 aliases of 20,000 bars with five indicators (5.6 KB in, 12.6 MB out).
HEAVY = f'history(symbol: "AAPL", limit: 20000) {{ bars {{ close }} {INDICATORS} }}'
FLOOD = "{ " + " ".join(f"a{i}: {HEAVY}" for i in range(30)) + " }"
BARS = "bars { timestamp open high low close volume }"
BY_VARIABLE = f'query Bars($limit: Int) {{ history(symbol: "AAPL", limit: $limit) {{ {BARS} }} }}'
FIVE_TIMES = (
    "query FiveTimes($limit: Int) {"
    + "".join(f' h{n}: history(symbol: "AAPL", limit: $limit) {{ {BARS} }}' for n in range(5))
    + " }"
)


def dashboard_history() -> tuple[str, int]:
    """The dashboard chart's document and the bars it asks for."""
    documents = (WEB / "api" / "documents.ts").read_text()
    document = re.search(r"export const HISTORY = `(.*?)`;", documents, re.DOTALL)
    bars = re.search(r"const MAX_BARS = (\d+);", (WEB / "panels" / "chart.ts").read_text())
    assert document is not None
    assert bars is not None
    return document.group(1), int(bars.group(1))


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None, body
    extensions: dict[str, Any] = first_error(body)["extensions"]
    assert extensions["code"] == "QUERY_TOO_EXPENSIVE", body
    return extensions


async def test_the_alias_flood_is_refused_with_its_cost_and_the_limit(
    server: RunningServer,
) -> None:
    response = await server.client.post("/graphql", json={"query": FLOOD})
    assert response.status_code == 200
    extensions = refusal(response.json())
    # 30 aliases x 20,000 bars x 6 values (close and one per indicator field).
    assert extensions == {"code": "QUERY_TOO_EXPENSIVE", "cost": 3_600_000, "limit": 500_000}
    assert "fewer bars" in first_error(response.json())["message"]
    assert len(response.content) < 2_000
    samples = await scrape(server.client)
    assert samples.value("stockql_graphql_errors_total", code="QUERY_TOO_EXPENSIVE") == 1


async def test_variables_are_counted_with_their_values(server: RunningServer) -> None:
    # 20,000 bars x 6 fields = 120,000: within the default budget; five times that is not.
    assert len(data(await server.graphql(BY_VARIABLE, {"limit": 300}))["history"]["bars"]) > 0
    assert data(await server.graphql(BY_VARIABLE, {"limit": 20000}))["history"]["bars"]
    assert refusal(await server.graphql(FIVE_TIMES, {"limit": 20000}))["cost"] == 600_000
    assert data(await server.graphql(FIVE_TIMES, {"limit": 5000}))["h4"]["bars"]


async def test_each_spread_of_a_fragment_counts(server: RunningServer) -> None:
    fragment = f"fragment Heavy on PriceHistory {{ bars {{ close }} {INDICATORS} }}"
    spreads = " ".join(f'h{i}: history(symbol: "AAPL") {{ ...Heavy }}' for i in range(5))
    assert refusal(await server.graphql(f"{{ {spreads} }} {fragment}"))["cost"] == 600_000
    one = 'query { history(symbol: "AAPL", limit: 100) { ...Heavy } } ' + fragment
    assert data(await server.graphql(one))["history"]["bars"]


async def test_the_dashboard_chart_fits_the_default_budget(server: RunningServer) -> None:
    document, bars = dashboard_history()
    variables: dict[str, object] = {"symbol": "AAPL", "interval": "DAILY", "limit": bars}
    assert data(await server.graphql(document, variables))["history"]["columns"]["close"]


async def test_a_websocket_operation_over_the_budget_is_refused(server: RunningServer) -> None:
    async with graphql_ws(server.base_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        refused = await ws.next_payload(await ws.subscribe(FLOOD))
        assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_EXPENSIVE"
        served = await ws.next_payload(await ws.subscribe(BY_VARIABLE, {"limit": 10}))
        assert len(served["data"]["history"]["bars"]) == 10


@pytest.fixture
async def small_budget(pg_url: str, redis_url: str) -> AsyncIterator[RunningServer]:
    settings = api_settings(database_url=pg_url, redis_url=redis_url, max_query_cost=1000)
    async with running_server(settings) as running:
        yield running


async def test_the_budget_is_a_setting(small_budget: RunningServer) -> None:
    body = await small_budget.graphql(BY_VARIABLE, {"limit": 200})
    assert refusal(body) == {"code": "QUERY_TOO_EXPENSIVE", "cost": 1200, "limit": 1000}
    assert data(await small_budget.graphql(BY_VARIABLE, {"limit": 100}))["history"]["bars"]
    assert data(await small_budget.graphql('{ symbols latestPrice(symbol: "AAPL") { price } }'))
