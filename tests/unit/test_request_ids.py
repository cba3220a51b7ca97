"""app/request_ids.py: ids unique within and across processes; a websocket's binding undone."""

import asyncio
import os
import re

from starlette.types import Receive, Scope, Send
from structlog.contextvars import get_contextvars

from app.request_ids import RequestIds, new_id

_ID = re.compile(r"[0-9a-f]{32}")


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert all(_ID.fullmatch(each) for each in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_draws_ids_of_its_own() -> None:
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id, then out without running pytest's teardown
        os.write(writing, new_id().encode())
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    childs = os.read(reading, 64).decode()
    os.close(reading)
    ours = new_id()
    assert _ID.fullmatch(childs)
    assert childs[:16] != ours[:16]


def test_a_websocket_is_logged_with_its_connection_id_and_unbound_after() -> None:
    seen: dict[str, object] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(get_contextvars())

    async def run() -> dict[str, object]:
        scope: Scope = {"type": "websocket"}
        await RequestIds(app)(scope, None, None)  # type: ignore[arg-type]
        assert seen["connection_id"] == scope["state"]["request_id"]
        return get_contextvars()

    assert "connection_id" not in asyncio.run(run())
