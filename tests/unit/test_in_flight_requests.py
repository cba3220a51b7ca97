"""Requests cut off by the shutdown timeout answer 503; any other cancellation, and any
request that already started its answer, is left as it is."""

import asyncio

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.shutdown import InFlightRequests

HTTP: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}


async def never_answers(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.Event().wait()


async def starts_then_waits(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await asyncio.Event().wait()


async def cancelled_run(requests: InFlightRequests, app: ASGIApp) -> tuple[list[Message], bool]:
    """Run the wrapped app until it waits, cancel it: what it sent, whether it was cancelled."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    task = asyncio.ensure_future(requests.middleware(app)(HTTP, receive, send))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task])
    return sent, task.cancelled()


async def test_a_request_cut_off_at_shutdown_answers_503() -> None:
    requests = InFlightRequests()
    requests.stopping = True
    sent, cancelled = await cancelled_run(requests, never_answers)
    assert not cancelled
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": b"server shutting down"}


@pytest.mark.parametrize(
    ("stopping", "app"),
    [(False, never_answers), (True, starts_then_waits)],
    ids=["running", "started"],
)
async def test_other_cancellations_pass_through(stopping: bool, app: ASGIApp) -> None:
    requests = InFlightRequests()
    requests.stopping = stopping
    sent, cancelled = await cancelled_run(requests, app)
    assert cancelled
    assert all(message.get("status") != 503 for message in sent)
