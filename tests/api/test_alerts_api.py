"""Alerts through HTTP: createAlert, me.alerts, deleteAlert, validation, ownership, and an alert
firing into the user's notifications (PostgreSQL, Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.events import PriceUpdated
from tests.support.accounts import bearer, signed_up
from tests.support.graphql import data, error_code
from tests.support.server import RunningServer

CREATE_ALERT = """
mutation Create($input: CreateAlertInput!) {
  createAlert(input: $input) {
    __typename
    ... on Alert {
      id symbol condition threshold frequency active expiresAt lastTriggeredAt createdAt
    }
    ... on ValidationError { message fields { field message code } }
    ... on NotFoundError { message }
  }
}
"""
DELETE_ALERT = "mutation($id: ID!) { deleteAlert(id: $id) }"
MY_ALERTS = "{ me { alerts { id symbol condition threshold frequency active } } }"
NOTIFICATIONS = "{ notifications { type symbol message data read } }"


async def create_alert(server: RunningServer, token: str | None, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"symbol": "AAPL", "condition": "PRICE_ABOVE", "threshold": 180.0}
    values.update(fields)
    headers = bearer(token) if token else None
    result: dict[str, Any] = data(
        await server.graphql(CREATE_ALERT, {"input": values}, headers=headers)
    )["createAlert"]
    return result


async def my_alerts(server: RunningServer, token: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = data(await server.graphql(MY_ALERTS, headers=bearer(token)))[
        "me"
    ]["alerts"]
    return alerts


async def test_a_created_alert_is_listed_in_me_alerts(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    expires = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    created = await create_alert(
        server,
        token,
        symbol="aapl",
        condition="CROSSES_ABOVE",
        threshold=180,
        frequency="ONCE_PER_DAY",
        expiresAt=expires.isoformat(),
    )
    assert created["__typename"] == "Alert"
    assert {key: created[key] for key in ("symbol", "condition", "threshold", "frequency")} == {
        "symbol": "AAPL",
        "condition": "CROSSES_ABOVE",
        "threshold": 180.0,
        "frequency": "ONCE_PER_DAY",
    }
    assert (created["active"], created["lastTriggeredAt"]) == (True, None)
    assert created["expiresAt"] == expires.isoformat().replace("+00:00", "Z")
    assert created["createdAt"].endswith("Z")
    assert await my_alerts(server, token) == [
        {
            key: created[key]
            for key in ("id", "symbol", "condition", "threshold", "frequency", "active")
        }
    ]


async def test_frequency_defaults_to_once(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    assert (await create_alert(server, token))["frequency"] == "ONCE"


async def test_a_recommendation_alert_needs_no_threshold(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    created = await create_alert(server, token, condition="RECOMMENDATION_CHANGED", threshold=None)
    assert (created["__typename"], created["threshold"]) == ("Alert", None)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"threshold": None}, [("threshold", "REQUIRED")]),
        ({"condition": "RSI_BELOW", "threshold": None}, [("threshold", "REQUIRED")]),
        ({"threshold": 1e300}, [("threshold", "OUT_OF_RANGE")]),
        ({"threshold": -5.0}, [("threshold", "OUT_OF_RANGE")]),
        ({"condition": "RSI_ABOVE", "threshold": 150.0}, [("threshold", "OUT_OF_RANGE")]),
        (
            {"condition": "PERCENT_CHANGE_BELOW", "threshold": -100.0},
            [("threshold", "OUT_OF_RANGE")],
        ),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, [("expiresAt", "IN_PAST")]),
        ({"symbol": "not a symbol!"}, [("symbol", "INVALID")]),
        (
            {"symbol": "", "threshold": None, "expiresAt": "2020-01-01T00:00:00Z"},
            [("symbol", "INVALID"), ("threshold", "REQUIRED"), ("expiresAt", "IN_PAST")],
        ),
    ],
)
async def test_invalid_alerts_name_every_bad_field_and_store_nothing(
    server: RunningServer, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    token, _ = await signed_up(server)
    result = await create_alert(server, token, **fields)
    assert result["__typename"] == "ValidationError"
    assert [(field["field"], field["code"]) for field in result["fields"]] == expected
    assert await my_alerts(server, token) == []


async def test_an_unknown_symbol_is_not_found(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    result = await create_alert(server, token, symbol="ZZZZ")
    assert result == {"__typename": "NotFoundError", "message": "Unknown symbol ZZZZ"}
    assert await my_alerts(server, token) == []


async def test_the_51st_active_alert_is_refused(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    for number in range(50):
        created = await create_alert(server, token, threshold=100.0 + number)
        assert created["__typename"] == "Alert", created
    refused = await create_alert(server, token, threshold=500.0)
    assert refused["__typename"] == "ValidationError"
    assert [(f["field"], f["code"]) for f in refused["fields"]] == [("input", "TOO_MANY")]
    assert len(await my_alerts(server, token)) == 50


async def test_deleting_an_alert_frees_a_place_under_the_limit(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    ids = [(await create_alert(server, token, threshold=100.0 + n))["id"] for n in range(50)]
    body = await server.graphql(DELETE_ALERT, {"id": ids[0]}, headers=bearer(token))
    assert data(body)["deleteAlert"] is True
    assert (await create_alert(server, token))["__typename"] == "Alert"


async def test_alert_operations_need_a_signed_in_user(server: RunningServer) -> None:
    body = await server.graphql(
        CREATE_ALERT,
        {"input": {"symbol": "AAPL", "condition": "PRICE_ABOVE", "threshold": 1.0}},
    )
    assert error_code(body) == "UNAUTHENTICATED"
    assert error_code(await server.graphql(DELETE_ALERT, {"id": "x"})) == "UNAUTHENTICATED"
    bad_token = {"authorization": "Bearer not-a-token"}
    body = await server.graphql(DELETE_ALERT, {"id": "x"}, headers=bad_token)
    assert error_code(body) == "UNAUTHENTICATED"


async def test_a_deleted_alert_disappears_and_deleting_again_is_false(
    server: RunningServer,
) -> None:
    token, _ = await signed_up(server)
    alert_id = (await create_alert(server, token))["id"]
    first = data(await server.graphql(DELETE_ALERT, {"id": alert_id}, headers=bearer(token)))
    again = data(await server.graphql(DELETE_ALERT, {"id": alert_id}, headers=bearer(token)))
    assert (first["deleteAlert"], again["deleteAlert"]) == (True, False)
    assert await my_alerts(server, token) == []


async def test_another_users_alert_can_be_neither_seen_nor_deleted(server: RunningServer) -> None:
    owner, _ = await signed_up(server)
    intruder, _ = await signed_up(server)
    alert_id = (await create_alert(server, owner))["id"]

    assert await my_alerts(server, intruder) == []
    body = await server.graphql(DELETE_ALERT, {"id": alert_id}, headers=bearer(intruder))
    assert data(body)["deleteAlert"] is False
    assert [alert["id"] for alert in await my_alerts(server, owner)] == [alert_id]


async def test_a_firing_alert_reaches_the_users_notifications(server: RunningServer) -> None:
    token, _ = await signed_up(server)
    other, _ = await signed_up(server)
    alert_id = (await create_alert(server, token, condition="PRICE_ABOVE", threshold=180))["id"]
    await create_alert(server, other, condition="PRICE_ABOVE", threshold=200)
    alerts = server.app.state.runtime.services.alerts

    event = PriceUpdated(symbol="AAPL", price=180.42, timestamp=datetime.now(UTC))
    await alerts.on_price(event)
    await alerts.on_price(event)

    body = await server.graphql(NOTIFICATIONS, headers=bearer(token))
    assert data(body)["notifications"] == [
        {
            "type": "PRICE_ALERT",
            "symbol": "AAPL",
            "message": "AAPL is above 180.00 at 180.42",
            "data": {
                "alertId": alert_id,
                "condition": "PRICE_ABOVE",
                "threshold": 180.0,
                "frequency": "ONCE",
                "price": 180.42,
                "value": 180.42,
            },
            "read": False,
        }
    ]
    fired = (await my_alerts(server, token))[0]
    assert fired["active"] is False
    body = await server.graphql(NOTIFICATIONS, headers=bearer(other))
    assert data(body)["notifications"] == []
