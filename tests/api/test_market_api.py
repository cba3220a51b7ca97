"""Market data through HTTP against the real app (simulator provider, PostgreSQL, Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select

from app.adapters.sql.tables import BarRow
from tests.support.accounts import admin_token, bearer
from tests.support.graphql import data, error_code, first_error
from tests.support.server import RunningServer

HISTORY = """
query History($symbol: String!, $interval: Interval! = DAILY, $start: Date, $end: Date,
              $limit: Int) {
  history(symbol: $symbol, interval: $interval, start: $start, end: $end, limit: $limit) {
    symbol interval source cached stale fetchedAt
    bars { timestamp open high low close volume }
    columns { timestamp open high low close volume }
  }
}
"""

INDICATORS = """
query Indicators($symbol: String!, $start: Date, $end: Date) {
  history(symbol: $symbol, start: $start, end: $end) {
    bars { timestamp }
    sma(window: 20) { timestamp value }
    ema(window: 20) { timestamp value }
    rsi { timestamp value }
    macd { timestamp macd signal histogram }
    bollinger { timestamp upper middle lower }
  }
}
"""

LATEST_PRICE = """
query Latest($symbol: String!) {
  latestPrice(symbol: $symbol) {
    symbol price open high low previousClose change changePercent volume timestamp source stale
  }
}
"""

SEARCH = (
    "query Search($q: String!) { searchSymbols(query: $q) { symbol name region currency score } }"
)

CLEAR_CACHE = (
    "mutation Clear($symbol: String) { clearCache(symbol: $symbol) { symbols keysRemoved } }"
)


async def bar_count(server: RunningServer) -> int:
    engine = server.app.state.runtime.engine
    async with engine.connect() as connection:
        count: int = (
            await connection.execute(select(func.count()).select_from(BarRow))
        ).scalar_one()
        return count


async def test_daily_history_serves_ten_years_of_simulated_bars(server: RunningServer) -> None:
    history = data(await server.graphql(HISTORY, {"symbol": "aapl"}))["history"]
    assert history["symbol"] == "AAPL"
    assert history["interval"] == "DAILY"
    assert history["source"] == "simulator"
    assert (history["cached"], history["stale"]) == (False, False)
    bars = history["bars"]
    assert len(bars) >= 2500
    first, last = (datetime.fromisoformat(bars[i]["timestamp"]) for i in (0, -1))
    assert last - first >= timedelta(days=3650 - 10)
    assert all(bar["timestamp"].endswith("Z") for bar in bars[:5])
    assert all(
        b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"]
        for b in bars
    )


async def test_columns_hold_the_same_data_as_bars(server: RunningServer) -> None:
    history = data(await server.graphql(HISTORY, {"symbol": "MSFT", "limit": 300}))["history"]
    columns = history["columns"]
    for field in ("timestamp", "open", "high", "low", "close", "volume"):
        assert columns[field] == [bar[field] for bar in history["bars"]]


async def test_second_request_is_cached_and_bars_are_stored(server: RunningServer) -> None:
    await server.graphql(HISTORY, {"symbol": "AAPL", "limit": 5})
    # Another limit: not the same response (that one the response cache replays whole).
    again = data(await server.graphql(HISTORY, {"symbol": "AAPL", "limit": 4}))["history"]
    assert again["cached"] is True
    assert await bar_count(server) >= 2500


async def test_range_and_limit_select_bars(server: RunningServer) -> None:
    history = data(
        await server.graphql(
            HISTORY, {"symbol": "AAPL", "start": "2024-03-01", "end": "2024-03-31"}
        )
    )["history"]
    days = [bar["timestamp"][:10] for bar in history["bars"]]
    assert days[0] == "2024-03-01"
    assert days[-1] == "2024-03-28"  # Good Friday 2024-03-29 is a market holiday
    assert all("2024-03-01" <= day <= "2024-03-31" for day in days)
    newest = data(await server.graphql(HISTORY, {"symbol": "AAPL", "limit": 3}))["history"]
    assert len(newest["bars"]) == 3


async def test_intraday_and_weekly_history(server: RunningServer) -> None:
    five = data(await server.graphql(HISTORY, {"symbol": "AAPL", "interval": "FIVE_MINUTES"}))
    stamps = [datetime.fromisoformat(bar["timestamp"]) for bar in five["history"]["bars"]]
    # 30 sessions and the running one, less what the 45-day lookback cuts off the oldest:
    # during a session after a daylight-saving change that is an hour more than the running
    # session has (the sessions open at another UTC hour), so count 29 whole ones.
    assert len(stamps) >= 29 * 78
    assert all((later - earlier) >= timedelta(minutes=5) for earlier, later in pairwise(stamps))
    weekly = data(
        await server.graphql(HISTORY, {"symbol": "AAPL", "interval": "WEEKLY", "limit": 10})
    )
    assert weekly["history"]["interval"] == "WEEKLY"
    assert len(weekly["history"]["bars"]) == 10


async def test_indicators_cover_the_window_and_do_not_depend_on_the_range(
    server: RunningServer,
) -> None:
    narrow = data(
        await server.graphql(
            INDICATORS, {"symbol": "AAPL", "start": "2024-06-03", "end": "2024-06-28"}
        )
    )
    wide = data(
        await server.graphql(
            INDICATORS, {"symbol": "AAPL", "start": "2024-01-02", "end": "2024-06-28"}
        )
    )
    narrow_history, wide_history = narrow["history"], wide["history"]
    window = [bar["timestamp"] for bar in narrow_history["bars"]]
    for name in ("sma", "ema", "rsi", "macd", "bollinger"):
        points = narrow_history[name]
        # Warm-up comes from before `start`: every bar of the window has a value.
        assert [point["timestamp"] for point in points] == window, name
        overlapping = {point["timestamp"]: point for point in wide_history[name]}
        assert points == [overlapping[ts] for ts in window], name


async def test_latest_price_is_a_live_simulated_quote(server: RunningServer) -> None:
    quote = data(await server.graphql(LATEST_PRICE, {"symbol": "tsla"}))["latestPrice"]
    assert quote["symbol"] == "TSLA"
    assert quote["price"] > 0
    assert quote["source"] == "simulator"
    assert quote["stale"] is False
    stamp = datetime.fromisoformat(quote["timestamp"])
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)


async def test_search_finds_apple_without_an_api_key(server: RunningServer) -> None:
    matches = data(await server.graphql(SEARCH, {"q": "Apple"}))["searchSymbols"]
    assert matches[0]["symbol"] == "AAPL"
    assert "Apple" in matches[0]["name"]


async def test_symbols_lists_the_tracked_symbols(server: RunningServer) -> None:
    assert data(await server.graphql("{ symbols }"))["symbols"] == ["AAPL", "MSFT"]


async def test_clear_cache_removes_a_symbols_keys(server: RunningServer) -> None:
    await server.graphql(HISTORY, {"symbol": "AAPL", "limit": 1})
    await server.graphql(LATEST_PRICE, {"symbol": "AAPL"})
    admin = bearer(await admin_token(server))
    cleared = data(await server.graphql(CLEAR_CACHE, {"symbol": "aapl"}, headers=admin))
    assert cleared["clearCache"] == {"symbols": ["AAPL"], "keysRemoved": 2}
    again = data(await server.graphql(HISTORY, {"symbol": "AAPL", "limit": 1}))["history"]
    assert again["cached"] is False


async def test_embedded_defaults_serve_history_from_sqlite(sqlite_server: RunningServer) -> None:
    history = data(await sqlite_server.graphql(HISTORY, {"symbol": "GOOG", "limit": 10}))["history"]
    assert len(history["bars"]) == 10
    again = data(await sqlite_server.graphql(HISTORY, {"symbol": "GOOG", "limit": 9}))["history"]
    assert again["cached"] is True


TOMORROW = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (HISTORY, {"symbol": "not a symbol"}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "ZZZZ"}, "NOT_FOUND"),
        (HISTORY, {"symbol": "AAPL", "start": "2024-05-01", "end": "2024-04-01"}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "start": TOMORROW}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "end": TOMORROW}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "limit": 0}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "limit": -5}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "limit": 1_000_000}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "start": "2024-13-45"}, "BAD_USER_INPUT"),
        (HISTORY, {"symbol": "AAPL", "interval": "YEARLY"}, "BAD_USER_INPUT"),
        (LATEST_PRICE, {"symbol": "ZZZZ"}, "NOT_FOUND"),
        (LATEST_PRICE, {"symbol": ""}, "BAD_USER_INPUT"),
        (SEARCH, {"q": "   "}, "BAD_USER_INPUT"),
        (SEARCH, {"q": "x" * 65}, "BAD_USER_INPUT"),
    ],
)
async def test_bad_input_is_a_typed_error_and_stores_nothing(
    server: RunningServer, query: str, variables: dict[str, Any], code: str
) -> None:
    body = await server.graphql(query, variables)
    assert error_code(body) == code
    assert "Traceback" not in str(body)
    assert await bar_count(server) == 0


@pytest.mark.parametrize(
    ("indicator", "field"),
    [
        ("sma(window: 1)", "window"),
        ("ema(window: 0)", "window"),
        ("rsi(window: -3)", "window"),
        ("sma(window: 5000)", "window"),
        ("macd(fast: 26, slow: 12)", "fast"),
        ("bollinger(deviations: -1)", "deviations"),
    ],
)
async def test_bad_indicator_parameters_are_bad_user_input(
    server: RunningServer, indicator: str, field: str
) -> None:
    body = await server.graphql(
        f'{{ history(symbol: "AAPL", limit: 50) {{ {indicator} {{ timestamp }} }} }}'
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == field


async def test_indicator_window_larger_than_the_data_is_empty_with_a_warning(
    server: RunningServer,
) -> None:
    start = (datetime.now(UTC).date() - timedelta(days=40)).isoformat()
    body: dict[str, Any] = await server.graphql(
        'query($start: Date) { history(symbol: "AAPL", interval: WEEKLY, start: $start)'
        " { columns { timestamp } sma(window: 999) { value } } }",
        {"start": start},
    )
    assert "errors" not in body
    assert body["data"]["history"]["sma"] == []
    assert body["data"]["history"]["columns"]["timestamp"]
    (warning,) = body["extensions"]["warnings"]
    assert warning["code"] == "INDICATOR_WINDOW_TOO_LONG"
    assert warning["path"] == ["history", "sma"]
    assert "data points" in warning["message"]


async def test_oversize_request_body_is_refused_with_413(server: RunningServer) -> None:
    padding = " " * 1_100_000
    response = await server.client.post("/graphql", json={"query": "{ symbols }" + padding})
    assert response.status_code == 413


async def test_deep_queries_and_alias_floods_are_refused(server: RunningServer) -> None:
    aliases = " ".join(f"a{i}: symbols" for i in range(40))
    assert error_code(await server.graphql(f"{{ {aliases} }}")) == "BAD_USER_INPUT"


async def test_graphiql_is_served_on_get(server: RunningServer) -> None:
    response = await server.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_and_readiness(server: RunningServer) -> None:
    assert (await server.client.get("/healthz")).json() == {"status": "ok"}
    ready = await server.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_oversized_documents_are_refused_by_the_token_limit(server: RunningServer) -> None:
    fields = " ".join(["symbols"] * 4100)
    body = await server.graphql(f"{{ {fields} }}")
    assert error_code(body) == "BAD_USER_INPUT"
    assert "token" in first_error(body)["message"].lower()


async def test_clearing_every_symbol_lists_the_symbols_cleared(server: RunningServer) -> None:
    await server.graphql(LATEST_PRICE, {"symbol": "AAPL"})
    await server.graphql(LATEST_PRICE, {"symbol": "IBM"})
    admin = bearer(await admin_token(server))
    cleared = data(await server.graphql(CLEAR_CACHE, headers=admin))["clearCache"]
    assert cleared == {"symbols": ["AAPL", "IBM"], "keysRemoved": 2}


async def test_clearing_an_invalid_symbol_is_bad_user_input(server: RunningServer) -> None:
    admin = bearer(await admin_token(server))
    body = await server.graphql(CLEAR_CACHE, {"symbol": "$$$"}, headers=admin)
    assert error_code(body) == "BAD_USER_INPUT"
