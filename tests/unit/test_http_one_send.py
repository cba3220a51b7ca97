"""A response's head and body leave in one send (app/http_protocol.py OneSendPerIteration),
through the real uvicorn protocol on a recording transport, and the transport's own rules."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from app.http_protocol import OneSendPerIteration, deadline_http_protocol

GET = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def answering(*bodies: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        length = sum(len(body) for body in bodies)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % length)],
            }
        )
        for number, body in enumerate(bodies, start=1):
            await send(
                {"type": "http.response.body", "body": body, "more_body": number < len(bodies)}
            )
            await asyncio.sleep(0)

    return app


async def served(app: Any, request: bytes = GET) -> RecordingTransport:
    protocol_class = deadline_http_protocol(10.0, 64 * 1024)
    config = Config(app=app, http=protocol_class, lifespan="off", log_level="warning")
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(10):
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


async def test_a_response_head_and_body_go_in_one_write() -> None:
    transport = await served(answering(b'{"data": 1}'))
    (written,) = transport.writes
    assert written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert written.endswith(b'\r\n\r\n{"data": 1}')


async def test_a_body_sent_in_parts_arrives_whole_and_in_order() -> None:
    transport = await served(answering(b"one ", b"two"))
    assert b"".join(transport.writes).endswith(b"\r\n\r\none two")


async def test_writes_of_one_turn_are_joined_and_a_lone_write_leaves_at_its_end() -> None:
    loop = asyncio.get_running_loop()
    transport = RecordingTransport()
    corked = OneSendPerIteration(transport, loop)
    corked.write(b"head ")
    corked.write(b"body")
    assert transport.writes == []
    await asyncio.sleep(0)
    assert transport.writes == [b"head body"]
    corked.write(b"later")
    await asyncio.sleep(0)
    assert transport.writes == [b"head body", b"later"]


async def test_a_large_write_is_not_copied_and_keeps_its_order() -> None:
    transport = RecordingTransport()
    corked = OneSendPerIteration(transport, asyncio.get_running_loop())
    large = b"x" * (64 * 1024)
    corked.write(b"head")
    corked.write(large)
    assert transport.writes == [b"head", large]
    assert transport.writes[1] is large


async def test_closing_sends_what_is_held_first() -> None:
    transport = RecordingTransport()
    corked = OneSendPerIteration(transport, asyncio.get_running_loop())
    corked.write(b"last words")
    corked.close()
    assert transport.writes == [b"last words"]
    assert transport.closed
