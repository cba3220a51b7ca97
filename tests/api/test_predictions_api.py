"""Signals through HTTP: predict from data and from stored history, stored predictions,
live prediction updates, backtests; bad input changes nothing."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pytest

from domain.events import predictions_channel
from domain.market import Bar, Interval
from tests.support.accounts import bearer, signed_up
from tests.support.graphql import data, error_code
from tests.support.models import small_model
from tests.support.server import RunningServer
from tests.support.waiting import subscribed
from tests.support.ws import graphql_ws

PREDICT = """
mutation($input: PredictInput!) {
  predict(input: $input) {
    __typename
    ... on Prediction {
      id symbol recommendation confidence method modelVersion horizonDays price asOf createdAt
      probabilities { buy hold sell }
      reasons { code description }
      indicators { sma50 sma200 ema12 ema26 rsi14 macd macdSignal macdHistogram }
    }
    ... on ValidationError { fields { field code } }
    ... on InsufficientDataError { required available }
    ... on NotFoundError { message }
    ... on RateLimitedError { retryAfterSeconds }
  }
}
"""
PREDICTION_UPDATES = """
subscription {
  predictionUpdates(symbol: "AAPL") { type symbol prediction confidence predictionId }
}
"""
PREDICTIONS = (
    "query($s: String!, $n: Int!) { predictions(symbol: $s, limit: $n) { id recommendation } }"
)
BACKTEST = """
query($s: String!, $m: PredictionMethod!, $start: Date) {
  backtest(symbol: $s, method: $m, start: $start) {
    symbol method start end
    metrics { samples accuracy balancedAccuracy macroF1 }
    strategy { totalReturn buyAndHoldReturn sharpe maxDrawdown trades }
    equity { timestamp equity position }
  }
}
"""


def points(
    count: int, *, start: date = date(2024, 1, 1), falling: bool = False
) -> list[dict[str, Any]]:
    """A smooth series; falling ends oversold."""
    out = []
    for i in range(count):
        drift = -0.4 * i if falling else 0.2 * i
        out.append(
            {
                "date": (start + timedelta(days=i)).isoformat(),
                "price": 100 + drift + math.sin(i / 3),
            }
        )
    return out


async def predict(
    server: RunningServer, input: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    body = await server.graphql(PREDICT, {"input": input}, headers=bearer(token) if token else None)
    result: dict[str, Any] = data(body)["predict"]
    return result


async def stored_history_end(server: RunningServer, symbol: str) -> date:
    """The date of the symbol's last stored daily bar (fetched from the simulator if need be)."""
    history = server.app.state.runtime.services.history
    stamps = (await history.stored_series(symbol, Interval.DAILY)).series.timestamps
    last: date = stamps[-1].date()
    return last


async def stored(server: RunningServer, symbol: str) -> list[dict[str, Any]]:
    body = await server.graphql(PREDICTIONS, {"s": symbol, "n": 50})
    result: list[dict[str, Any]] = data(body)["predictions"]
    return result


async def test_predict_from_data_uses_the_rules_and_stores_the_prediction(
    server: RunningServer,
) -> None:
    result = await predict(server, {"symbol": "acme", "data": points(60, falling=True)})
    assert result["__typename"] == "Prediction"
    assert (result["symbol"], result["method"], result["modelVersion"]) == ("ACME", "RULES", None)
    probabilities = result["probabilities"]
    assert abs(probabilities["buy"] + probabilities["hold"] + probabilities["sell"] - 1) < 1e-9
    assert result["confidence"] == max(probabilities.values())
    assert result["asOf"].startswith("2024-02-29")
    assert any(r["code"].startswith("RSI") for r in result["reasons"])
    assert [p["id"] for p in await stored(server, "ACME")] == [result["id"]]


async def test_predict_without_data_uses_the_stored_history(server: RunningServer) -> None:
    result = await predict(server, {"symbol": "AAPL"})
    assert result["__typename"] == "Prediction"
    assert result["indicators"]["sma200"] is not None
    assert result["horizonDays"] == 5


async def test_predictions_are_listed_newest_first(server: RunningServer) -> None:
    first = await predict(server, {"symbol": "MSFT"})
    assert [p["id"] for p in await stored(server, "MSFT")] == [first["id"]]
    second = await predict(server, {"symbol": "MSFT"})
    # The same query again: a cached answer would miss the new prediction.
    assert [p["id"] for p in await stored(server, "MSFT")] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    ("change", "typename", "detail"),
    [
        (lambda d: d.__setitem__(3, {**d[3], "price": -1}), "ValidationError", "data.3.price"),
        (lambda d: d.__setitem__(5, {**d[5], "price": 0}), "ValidationError", "data.5.price"),
        (
            lambda d: d.__setitem__(7, {**d[7], "date": d[6]["date"]}),
            "ValidationError",
            "data.7.date",
        ),
        (lambda d: d.__delitem__(slice(10, None)), "InsufficientDataError", None),
    ],
)
async def test_bad_data_is_a_typed_result_and_stores_nothing(
    server: RunningServer, change: Any, typename: str, detail: str | None
) -> None:
    series = points(60)
    change(series)
    result = await predict(server, {"symbol": "ACME", "data": series})
    assert result["__typename"] == typename
    if detail:
        assert result["fields"][0]["field"] == detail
    else:
        assert (result["required"], result["available"]) == (35, 10)
    assert await stored(server, "ACME") == []


async def test_more_than_ten_thousand_points_are_refused(server: RunningServer) -> None:
    result = await predict(server, {"symbol": "ACME", "data": points(10_001)})
    assert result["__typename"] == "ValidationError"
    assert result["fields"][0]["field"] == "data"


async def test_an_unknown_symbol_without_data_is_not_found(server: RunningServer) -> None:
    assert (await predict(server, {"symbol": "ZZZZ"}))["__typename"] == "NotFoundError"


async def test_points_in_any_order_give_the_same_prediction(server: RunningServer) -> None:
    series = points(80)
    ordered = await predict(server, {"symbol": "ACME", "data": series})
    shuffled = await predict(server, {"symbol": "ACME", "data": list(reversed(series))})
    assert ordered["probabilities"] == shuffled["probabilities"]
    assert ordered["asOf"] == shuffled["asOf"]


async def test_a_prediction_is_published_to_its_subscribers(server: RunningServer) -> None:
    async with graphql_ws(server.base_url) as ws:
        await ws.init()
        operation = await ws.subscribe(PREDICTION_UPDATES)
        await subscribed(server.app.state.runtime.redis, predictions_channel("AAPL"))
        made = await predict(server, {"symbol": "AAPL"})
        update = (await ws.next_payload(operation))["data"]["predictionUpdates"]
    assert update == {
        "type": "prediction_update",
        "symbol": "AAPL",
        "prediction": made["recommendation"],
        "confidence": made["confidence"],
        "predictionId": made["id"],
    }


async def test_anonymous_predictions_are_rate_limited_but_signed_in_ones_are_not(
    server: RunningServer,
) -> None:
    limit = server.app.state.runtime.settings.predict_limit_per_address
    series = points(40)
    results = [await predict(server, {"symbol": "ACME", "data": series}) for _ in range(limit + 1)]
    assert results[-1]["__typename"] == "RateLimitedError"
    assert results[-1]["retryAfterSeconds"] >= 1
    token, _ = await signed_up(server)
    assert (await predict(server, {"symbol": "ACME", "data": series}, token))[
        "__typename"
    ] == "Prediction"


@pytest.mark.parametrize("kind", ["revoked", "not ours"])
async def test_a_token_refused_gets_unauthenticated_and_stores_nothing(
    server: RunningServer, kind: str
) -> None:
    token, _ = await signed_up(server)
    if kind == "revoked":
        # Signed by this server: checked while the prediction's inputs are read.
        await server.graphql("mutation { logout }", headers=bearer(token))
    else:
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for symbol in ("ACME", "NOSUCH"):  # the refusal wins over the unknown symbol's NOT_FOUND
        body = await server.graphql(PREDICT, {"input": {"symbol": symbol}}, headers=bearer(token))
        assert error_code(body) == "UNAUTHENTICATED", body
    assert await stored(server, "ACME") == []


async def test_rules_backtest_reports_metrics_and_an_equity_curve(server: RunningServer) -> None:
    body = await server.graphql(BACKTEST, {"s": "AAPL", "m": "RULES", "start": "2020-01-02"})
    report = data(body)["backtest"]
    assert report["method"] == "RULES"
    assert report["start"] >= "2020-01-02"
    assert report["metrics"]["samples"] > 1000
    assert 0 <= report["metrics"]["balancedAccuracy"] <= 1
    assert len(report["equity"]) > 1000
    assert report["equity"][0]["equity"] == pytest.approx(1.0, abs=0.01)


async def test_model_backtest_without_a_model_is_not_found(server: RunningServer) -> None:
    body = await server.graphql(BACKTEST, {"s": "AAPL", "m": "MODEL"})
    assert error_code(body) == "NOT_FOUND"


async def test_model_info_is_null_until_a_model_is_trained(server: RunningServer) -> None:
    assert data(await server.graphql("{ modelInfo { version } }"))["modelInfo"] is None


MODEL_EVALUATION = """
{ modelInfo {
  metrics { balancedAccuracy samples }
  baselineMetrics { balancedAccuracy samples }
  majorityMetrics { balancedAccuracy samples }
  symbolEvaluations {
    symbol testRows testStart testEnd
    model { balancedAccuracy samples } rules { balancedAccuracy } majority { balancedAccuracy }
    modelStrategy { sharpe totalReturn days } rulesStrategy { sharpe totalReturn days }
    buyAndHold { sharpe totalReturn exposure days }
  }
  refits { testStart testEnd trainRows testRows model { balancedAccuracy } majority { samples } }
  labelDistribution { label count share }
  positionThreshold
} }
"""


async def test_model_info_shows_each_symbol_each_refit_and_the_labels(
    server: RunningServer,
) -> None:
    model = small_model()
    await server.app.state.runtime.services.models.save_model(model)

    info = data(await server.graphql(MODEL_EVALUATION))["modelInfo"]

    domain = model.info
    assert info["majorityMetrics"]["balancedAccuracy"] == pytest.approx(
        domain.baseline_metrics["majority"].balanced_accuracy
    )
    assert info["majorityMetrics"]["samples"] == info["metrics"]["samples"]
    symbols = info["symbolEvaluations"]
    assert [s["symbol"] for s in symbols] == ["AAA", "BBB"]
    assert sum(s["testRows"] for s in symbols) == info["metrics"]["samples"]
    for shown, kept in zip(symbols, domain.symbol_evaluations, strict=True):
        assert shown["model"]["samples"] == shown["testRows"]
        assert shown["testStart"] < shown["testEnd"]
        assert shown["rules"]["balancedAccuracy"] == pytest.approx(kept.rules.balanced_accuracy)
        assert shown["buyAndHold"]["exposure"] == 1.0
        assert shown["modelStrategy"]["days"] == shown["buyAndHold"]["days"] == shown["testRows"]
        assert shown["modelStrategy"]["sharpe"] == pytest.approx(
            domain.strategy_metrics[shown["symbol"]].sharpe
        )
    refits = info["refits"]
    assert len(refits) == domain.walk_forward_splits
    assert sum(r["testRows"] for r in refits) == info["metrics"]["samples"]
    assert [r["trainRows"] for r in refits] == sorted(r["trainRows"] for r in refits)
    labels = {row["label"]: row for row in info["labelDistribution"]}
    assert set(labels) == {"SELL", "HOLD", "BUY"}
    assert sum(row["count"] for row in labels.values()) == domain.training_rows
    assert sum(row["share"] for row in labels.values()) == pytest.approx(1.0)
    assert info["positionThreshold"] == domain.position_threshold


async def test_a_new_daily_bar_changes_the_next_prediction(server: RunningServer) -> None:
    first = await predict(server, {"symbol": "AAPL"})
    runtime = server.app.state.runtime
    last = await runtime.bar_store.latest_bar("AAPL", Interval.DAILY)
    close = last.close * 1.07
    newer = Bar(last.timestamp + timedelta(days=1), close, close, close, close, 1e6)
    await runtime.bar_store.upsert_bars("AAPL", Interval.DAILY, [newer], source="test")
    await runtime.cache.clear_symbol("AAPL")
    second = await predict(server, {"symbol": "AAPL"})
    assert second["price"] == pytest.approx(close)
    assert second["asOf"] > first["asOf"]


def turn(*, trend: float, last: float, start: date = date(2023, 1, 1)) -> list[dict[str, Any]]:
    """240 days of a steady trend, then 15 days the other way: with trend > 0 the SMA50 stays
    above the SMA200 while the RSI falls below 30 (two BUY votes); with trend < 0, two SELL.
    Dated after a symbol's stored history, these are the last 255 closes predicted from."""
    prices = [200 + trend * i for i in range(240)]
    prices += [prices[-1] + last * (i + 1) for i in range(15)]
    return [
        {"date": (start + timedelta(days=i)).isoformat(), "price": price}
        for i, price in enumerate(prices)
    ]


async def test_a_changed_recommendation_notifies_the_alert_owner(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    alert = data(
        await server.graphql(
            "mutation($input: CreateAlertInput!) { createAlert(input: $input) { __typename } }",
            {
                "input": {
                    "symbol": "AAPL",
                    "condition": "RECOMMENDATION_CHANGED",
                    "frequency": "EVERY_TIME",
                }
            },
            headers=bearer(token),
        )
    )
    assert alert["createAlert"]["__typename"] == "Alert"
    after = await stored_history_end(server, "AAPL") + timedelta(days=1)
    buy = await predict(server, {"symbol": "AAPL", "data": turn(trend=0.4, last=-3, start=after)})
    sell = await predict(server, {"symbol": "AAPL", "data": turn(trend=-0.4, last=3, start=after)})
    assert (buy["recommendation"], sell["recommendation"]) == ("BUY", "SELL")
    listed = data(
        await server.graphql("{ notifications { type symbol message } }", headers=bearer(token))
    )
    assert [(n["type"], n["symbol"]) for n in listed["notifications"]] == [
        ("PREDICTION_UPDATE", "AAPL")
    ]


def reason_codes(prediction: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in prediction["reasons"]]


def reason(prediction: dict[str, Any], code: str) -> str:
    descriptions = [str(r["description"]) for r in prediction["reasons"] if r["code"] == code]
    assert descriptions, f"no {code} among {reason_codes(prediction)}"
    return descriptions[0]


async def test_two_points_after_the_stored_history_extend_it(server: RunningServer) -> None:
    """The seed API's own example: two {date, price} points for a symbol with history."""
    last = await stored_history_end(server, "AAPL")
    series = [
        {"date": (last + timedelta(days=1)).isoformat(), "price": 201.5},
        {"date": (last + timedelta(days=2)).isoformat(), "price": 203.25},
    ]
    result = await predict(server, {"symbol": "AAPL", "data": series})
    assert result["__typename"] == "Prediction"
    assert result["method"] == "RULES"
    assert (result["price"], result["asOf"][:10]) == (203.25, series[1]["date"])
    assert result["indicators"]["sma200"] is not None
    merged = reason(result, "SUPPLIED_DATA_MERGED")
    assert merged.startswith("2 points supplied over ")
    assert f".. {last.isoformat()}, source simulator): 2 appended" in merged
    assert [p["id"] for p in await stored(server, "AAPL")] == [result["id"]]


async def test_a_point_on_a_stored_date_replaces_that_close(server: RunningServer) -> None:
    last = await stored_history_end(server, "AAPL")
    plain = await predict(server, {"symbol": "AAPL"})
    result = await predict(
        server, {"symbol": "AAPL", "data": [{"date": last.isoformat(), "price": 1.5}]}
    )
    assert result["asOf"] == plain["asOf"]
    assert plain["price"] != 1.5
    assert result["price"] == 1.5
    assert "1 replaced the stored close of their date" in reason(result, "SUPPLIED_DATA_MERGED")


async def test_too_few_points_of_a_symbol_with_no_history_are_insufficient(
    server: RunningServer,
) -> None:
    result = await predict(server, {"symbol": "ACME", "data": points(2)})
    assert result["__typename"] == "InsufficientDataError"
    assert (result["required"], result["available"]) == (35, 2)
    assert await stored(server, "ACME") == []


async def test_points_of_a_symbol_with_no_history_say_so(server: RunningServer) -> None:
    result = await predict(server, {"symbol": "ACME", "data": points(60)})
    assert "No daily history of ACME is stored" in reason(result, "SUPPLIED_DATA_ONLY")


async def test_with_a_model_two_points_over_the_stored_history_get_the_model(
    server: RunningServer,
) -> None:
    model = small_model()
    await server.app.state.runtime.services.models.save_model(model)
    last = await stored_history_end(server, "AAPL")
    series = [
        {"date": (last + timedelta(days=1)).isoformat(), "price": 201.5},
        {"date": (last + timedelta(days=2)).isoformat(), "price": 203.25},
    ]
    result = await predict(server, {"symbol": "AAPL", "data": series})
    assert (result["method"], result["modelVersion"]) == ("MODEL", model.version)
    assert reason_codes(result)[0] == "MODEL_OUTLOOK"
    assert "SUPPLIED_DATA_MERGED" in reason_codes(result)


async def test_with_a_model_too_short_a_series_falls_back_to_the_rules(
    server: RunningServer,
) -> None:
    model = small_model()
    await server.app.state.runtime.services.models.save_model(model)
    result = await predict(server, {"symbol": "ACME", "data": points(60)})
    assert (result["method"], result["modelVersion"]) == ("RULES", None)
    assert f"{model.version} needs 200 daily closes, 60 are available" in reason(
        result, "MODEL_FALLBACK_HISTORY"
    )
    short = await predict(server, {"symbol": "ACME", "data": points(10)})
    assert (short["__typename"], short["required"], short["available"]) == (
        "InsufficientDataError",
        35,
        10,
    )


async def test_with_a_model_another_horizon_falls_back_to_the_rules(
    server: RunningServer,
) -> None:
    await server.app.state.runtime.services.models.save_model(small_model())
    result = await predict(server, {"symbol": "AAPL", "horizonDays": 10})
    assert (result["method"], result["horizonDays"]) == ("RULES", 10)
    assert "not 10" in reason(result, "MODEL_FALLBACK_HORIZON")


async def test_a_volume_model_falls_back_when_points_add_days_without_volume(
    server: RunningServer,
) -> None:
    model = small_model(volume=True)
    await server.app.state.runtime.services.models.save_model(model)
    last = await stored_history_end(server, "AAPL")
    later = [{"date": (last + timedelta(days=1)).isoformat(), "price": 150.0}]
    appended = await predict(server, {"symbol": "AAPL", "data": later})
    assert appended["method"] == "RULES"
    assert "needs daily volumes" in reason(appended, "MODEL_FALLBACK_VOLUME")
    same_day = [{"date": last.isoformat(), "price": 150.0}]
    replaced = await predict(server, {"symbol": "AAPL", "data": same_day})
    assert (replaced["method"], replaced["modelVersion"]) == ("MODEL", model.version)
