"""Unknown symbols through the public API: every NOT_FOUND for a symbol carries the local
directory's best matches, whichever operation met it (history, latestPrice, stockPrice over a
websocket, predict and createAlert as typed errors), and a company name costs no call to Alpha
Vantage (a real local HTTP server answering in its formats)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import alpha_vantage_settings
from tests.support.accounts import bearer, signed_up
from tests.support.fake_alphavantage import FakeAlphaVantage
from tests.support.graphql import data, first_error
from tests.support.server import RunningServer, running_server
from tests.support.ws import graphql_ws

HISTORY = "query($symbol: String!) { history(symbol: $symbol) { symbol bars { close } } }"
LATEST_PRICE = "query($symbol: String!) { latestPrice(symbol: $symbol) { price } }"
STOCK_PRICE = "subscription($symbol: String!) { stockPrice(symbol: $symbol) { price } }"
PREDICT = """
mutation($input: PredictInput!) {
  predict(input: $input) {
    __typename
    ... on NotFoundError { message suggestions { symbol name score region currency } }
  }
}
"""
CREATE_ALERT = """
mutation($input: CreateAlertInput!) {
  createAlert(input: $input) {
    __typename
    ... on NotFoundError { message suggestions { symbol name } }
  }
}
"""
APPLE = {"symbol": "AAPL", "name": "Apple Inc.", "region": "United States", "currency": "USD"}


def not_found(body: dict[str, Any]) -> dict[str, Any]:
    """The extensions of a NOT_FOUND error, its message under "message"."""
    error = first_error(body)
    extensions: dict[str, Any] = error["extensions"]
    assert extensions["code"] == "NOT_FOUND", error
    return {**extensions, "message": error["message"]}


def symbols(suggestions: list[dict[str, Any]]) -> list[str]:
    return [suggestion["symbol"] for suggestion in suggestions]


@pytest.mark.parametrize("query", [HISTORY, LATEST_PRICE], ids=["history", "latestPrice"])
@pytest.mark.parametrize("typed", ["Apple", "apple", "APPLE"])
async def test_a_company_name_is_not_found_with_its_ticker_suggested(
    server: RunningServer, query: str, typed: str
) -> None:
    error = not_found(await server.graphql(query, {"symbol": typed}))

    assert error["message"] == "Unknown symbol APPLE"
    suggestion = error["suggestions"][0]
    assert {key: suggestion[key] for key in APPLE} == APPLE
    assert 0 < suggestion["score"] <= 1


async def test_suggestions_are_the_best_search_matches(server: RunningServer) -> None:
    error = not_found(await server.graphql(HISTORY, {"symbol": "alphabet"}))
    search = data(await server.graphql('{ searchSymbols(query: "alphabet") { symbol } }'))

    assert symbols(error["suggestions"]) == ["GOOG", "GOOGL"]
    assert symbols(error["suggestions"]) == symbols(search["searchSymbols"])


async def test_a_misspelt_ticker_suggests_the_listed_one(server: RunningServer) -> None:
    error = not_found(await server.graphql(LATEST_PRICE, {"symbol": "MSFTT"}))

    assert symbols(error["suggestions"]) == ["MSFT"]


async def test_an_unknown_symbol_like_nothing_listed_suggests_nothing(
    server: RunningServer,
) -> None:
    error = not_found(await server.graphql(HISTORY, {"symbol": "ZZZZ"}))

    assert error["suggestions"] == []


async def test_stock_price_subscription_of_a_company_name_suggests_its_ticker(
    server: RunningServer,
) -> None:
    async with graphql_ws(server.base_url) as ws:
        await ws.init()
        operation = await ws.subscribe(STOCK_PRICE, {"symbol": "Tesla"})
        payload = await ws.next_payload(operation)

    extensions = payload["errors"][0]["extensions"]
    assert extensions["code"] == "NOT_FOUND"
    assert symbols(extensions["suggestions"]) == ["TSLA"]


async def test_predict_of_a_company_name_is_a_not_found_error_with_suggestions(
    server: RunningServer,
) -> None:
    body = await server.graphql(PREDICT, {"input": {"symbol": "Nvidia"}})
    result = data(body)["predict"]

    assert result["__typename"] == "NotFoundError"
    assert result["message"] == "Unknown symbol NVIDIA"
    assert symbols(result["suggestions"]) == ["NVDA"]


async def test_create_alert_on_a_company_name_is_a_not_found_error_with_suggestions(
    server: RunningServer,
) -> None:
    token, _ = await signed_up(server)
    variables: dict[str, Any] = {
        "input": {"symbol": "Apple", "condition": "PRICE_ABOVE", "threshold": 1.0}
    }

    result = data(await server.graphql(CREATE_ALERT, variables, headers=bearer(token)))

    assert result["createAlert"]["__typename"] == "NotFoundError"
    assert symbols(result["createAlert"]["suggestions"]) == ["AAPL"]


@pytest.fixture
async def alphavantage_server(
    pg_url: str, redis_url: str, fake_alphavantage: FakeAlphaVantage
) -> AsyncIterator[RunningServer]:
    settings = alpha_vantage_settings(fake_alphavantage, database_url=pg_url, redis_url=redis_url)
    async with running_server(settings) as running:
        yield running


@pytest.mark.parametrize(
    ("typed", "ticker"),
    [("Apple", "AAPL"), ("APPLE", "AAPL"), ("microsoft", "MSFT"), ("Coca-Cola", "KO")],
)
async def test_a_company_name_costs_no_alpha_vantage_call(
    alphavantage_server: RunningServer, fake_alphavantage: FakeAlphaVantage, typed: str, ticker: str
) -> None:
    for query in (HISTORY, LATEST_PRICE):
        error = not_found(await alphavantage_server.graphql(query, {"symbol": typed}))
        assert symbols(error["suggestions"])[0] == ticker

    assert fake_alphavantage.calls == []


@pytest.mark.parametrize("typed", ["Apple Inc.", "coca cola", "The Home Depot"])
async def test_a_company_name_that_cannot_be_a_ticker_is_bad_input_with_its_ticker_suggested(
    alphavantage_server: RunningServer, fake_alphavantage: FakeAlphaVantage, typed: str
) -> None:
    error = first_error(await alphavantage_server.graphql(HISTORY, {"symbol": typed}))

    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "symbol",
    )
    assert len(symbols(error["extensions"]["suggestions"])) == 1
    assert fake_alphavantage.calls == []


async def test_an_unknown_ticker_costs_one_call_and_then_gets_suggestions_without_one(
    alphavantage_server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    # The fake knows every symbol but those starting with ZZZ; the directory knows none of them.
    for _ in range(3):
        error = not_found(await alphavantage_server.graphql(HISTORY, {"symbol": "ZZZAPL"}))
        assert error["message"] == "Unknown symbol ZZZAPL"
        assert "suggestions" in error

    assert [call["function"] for call in fake_alphavantage.calls] == ["TIME_SERIES_DAILY"]


async def test_a_short_name_word_is_left_to_the_provider(
    alphavantage_server: RunningServer, fake_alphavantage: FakeAlphaVantage
) -> None:
    # FORD is a real ticker (Forward Industries), not only the start of "Ford Motor Company".
    quote = data(await alphavantage_server.graphql(LATEST_PRICE, {"symbol": "FORD"}))

    assert quote["latestPrice"]["price"] > 0
    assert [call["symbol"] for call in fake_alphavantage.calls] == ["FORD"]
