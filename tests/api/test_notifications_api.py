"""Notifications through HTTP: the signed-in user's list (unreadOnly, limit) and
markNotificationsRead, never touching another user's (PostgreSQL, Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.events import EventBus, user_channel
from domain.notifications import NotificationType, Notifier, notification_from_json
from tests.support.accounts import bearer, signed_up
from tests.support.graphql import data, error_code, first_error
from tests.support.server import RunningServer

LIST = """
query List($unreadOnly: Boolean! = false, $limit: Int! = 50) {
  notifications(unreadOnly: $unreadOnly, limit: $limit) {
    id type symbol message data read createdAt
  }
}
"""
MARK_READ = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }"


def notifier(server: RunningServer) -> Notifier:
    service: Notifier = server.app.state.runtime.services.notifications
    return service


async def send(server: RunningServer, user_id: str, message: str) -> str:
    sent = await notifier(server).send(
        user_id,
        NotificationType.PRICE_ALERT,
        message,
        symbol="AAPL",
        data={"price": 180.42, "levels": [1, 2], "note": None},
    )
    return sent.id


async def listed(server: RunningServer, token: str, **variables: Any) -> list[dict[str, Any]]:
    body = await server.graphql(LIST, variables, headers=bearer(token))
    notifications: list[dict[str, Any]] = data(body)["notifications"]
    return notifications


async def mark_read(server: RunningServer, token: str, ids: list[str] | None) -> int:
    body = await server.graphql(MARK_READ, {"ids": ids}, headers=bearer(token))
    changed: int = data(body)["markNotificationsRead"]
    return changed


async def test_notifications_are_listed_newest_first_with_their_data(
    server: RunningServer,
) -> None:
    token, user = await signed_up(server)
    first = await send(server, user["id"], "first")
    second = await send(server, user["id"], "second")

    notifications = await listed(server, token)

    assert [n["id"] for n in notifications] == [second, first]
    assert notifications[0] | {"createdAt": None} == {
        "id": second,
        "type": "PRICE_ALERT",
        "symbol": "AAPL",
        "message": "second",
        "data": {"price": 180.42, "levels": [1, 2], "note": None},
        "read": False,
        "createdAt": None,
    }
    assert notifications[0]["createdAt"].endswith("Z")


async def test_an_account_update_is_listed_without_a_symbol(server: RunningServer) -> None:
    token, user = await signed_up(server)
    await notifier(server).account_updated(user["id"], "email")
    [notification] = await listed(server, token)
    assert {key: notification[key] for key in ("type", "symbol", "message", "data")} == {
        "type": "ACCOUNT_UPDATE",
        "symbol": None,
        "message": "Your account's email was changed",
        "data": {"what": "email"},
    }


async def test_the_list_stops_at_the_limit(server: RunningServer) -> None:
    token, user = await signed_up(server)
    ids = [await send(server, user["id"], f"n{number}") for number in range(3)]
    assert [n["id"] for n in await listed(server, token, limit=2)] == [ids[2], ids[1]]


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_a_limit_outside_1_to_200_is_bad_user_input(
    server: RunningServer, limit: int
) -> None:
    token, _ = await signed_up(server)
    body = await server.graphql(LIST, {"limit": limit}, headers=bearer(token))
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == "limit"


async def test_notifications_need_a_signed_in_user(server: RunningServer) -> None:
    assert error_code(await server.graphql(LIST)) == "UNAUTHENTICATED"
    assert error_code(await server.graphql(MARK_READ, {"ids": None})) == "UNAUTHENTICATED"


async def test_mark_read_without_ids_marks_all_and_counts_the_changed(
    server: RunningServer,
) -> None:
    token, user = await signed_up(server)
    for number in range(3):
        await send(server, user["id"], f"n{number}")

    assert await mark_read(server, token, None) == 3
    assert await mark_read(server, token, None) == 0
    assert [n["read"] for n in await listed(server, token)] == [True, True, True]
    assert await listed(server, token, unreadOnly=True) == []


async def test_mark_read_by_ids_marks_only_those(server: RunningServer) -> None:
    token, user = await signed_up(server)
    first = await send(server, user["id"], "first")
    second = await send(server, user["id"], "second")

    assert await mark_read(server, token, [first]) == 1

    unread = await listed(server, token, unreadOnly=True)
    assert [n["id"] for n in unread] == [second]


async def test_another_users_notifications_can_be_neither_seen_nor_marked(
    server: RunningServer,
) -> None:
    owner, owner_user = await signed_up(server)
    intruder, intruder_user = await signed_up(server)
    theirs = await send(server, owner_user["id"], "private")
    await send(server, intruder_user["id"], "own")

    assert [n["message"] for n in await listed(server, intruder)] == ["own"]
    assert await mark_read(server, intruder, [theirs, "unknown-id"]) == 0
    assert [n["read"] for n in await listed(server, owner)] == [False]


async def test_marking_all_read_leaves_other_users_unread(server: RunningServer) -> None:
    owner, owner_user = await signed_up(server)
    other, other_user = await signed_up(server)
    await send(server, owner_user["id"], "mine")
    await send(server, other_user["id"], "theirs")

    assert await mark_read(server, owner, None) == 1
    assert [n["read"] for n in await listed(server, other)] == [False]


async def test_a_sent_notification_is_stored_and_published_on_the_users_channel(
    server: RunningServer,
) -> None:
    token, user = await signed_up(server)
    bus: EventBus = server.app.state.runtime.bus
    async with bus.subscribe(user_channel(user["id"])) as subscription:
        sent_id = await send(server, user["id"], "live")
        message = await asyncio.wait_for(anext(aiter(subscription)), timeout=5)

    published = notification_from_json(message)
    assert (published.id, published.user_id, published.message) == (sent_id, user["id"], "live")
    assert [n["id"] for n in await listed(server, token)] == [sent_id]
