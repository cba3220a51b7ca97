"""app/websocket_protocol.py through a real uvicorn, read by a real websockets client (which
negotiates permessage-deflate, as browsers do): encoded text messages written at once in
each frame length form, and refused (False) whenever they would have to wait or fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import websockets
from starlette.types import Receive, Scope, Send

from app.websocket_protocol import SEND_TEXT_NOW, text_frame
from tests.support.server import free_port, serving

# One of each frame length form: 7 bits, 16 bits, 64 bits (multi-byte characters included).
MESSAGES = ["short", "x" * 300, "é" * 40_000]


class RecordingApp:
    """Tries `send_text_now` before accepting, for each message, and after closing."""

    def __init__(self) -> None:
        self.sent_now: list[bool] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        send_now: Callable[[str], bool] = scope["extensions"][SEND_TEXT_NOW]
        self.sent_now.append(send_now("before accept"))
        await send({"type": "websocket.accept"})
        self.sent_now.extend(send_now(message) for message in MESSAGES)
        await send({"type": "websocket.close", "code": 1000})
        self.sent_now.append(send_now("after close"))


@pytest.fixture
async def server() -> AsyncIterator[tuple[RecordingApp, int]]:
    app, port = RecordingApp(), free_port()
    async with serving(app, port):
        yield app, port


async def test_encoded_messages_are_written_at_once_and_refused_when_they_cannot_be(
    server: tuple[RecordingApp, int],
) -> None:
    app, port = server
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as client:
        assert client.protocol.extensions  # permessage-deflate was negotiated
        received = [await asyncio.wait_for(client.recv(), 5) for _ in MESSAGES]
        with pytest.raises(websockets.ConnectionClosedOK):
            await asyncio.wait_for(client.recv(), 5)
    assert received == MESSAGES
    assert app.sent_now == [False, True, True, True, False]


@pytest.mark.parametrize(
    ("length", "header"),
    [(125, b"\x81\x7d"), (126, b"\x81\x7e\x00\x7e"), (65_536, b"\x81\x7f" + (1 << 16).to_bytes(8))],
)
def test_text_frames_use_the_shortest_length_form(length: int, header: bytes) -> None:
    payload = b"a" * length
    assert text_frame(payload) == header + payload
