"""uvicorn's websockets-sansio protocol, with a way to send an encoded text message at once.

A live price goes to thousands of websockets. Through ASGI, each message passes starlette's
WebSocket, the middleware's send wrappers, uvicorn's `send` and the websockets library's
framing before it is written. This protocol puts `send_text_now(text) -> bool` into the
websocket scope's extensions (`SEND_TEXT_NOW`): it frames the message itself (one unmasked,
uncompressed text frame, which RFC 6455 and RFC 7692 allow whatever was negotiated) and
writes it to the transport, or returns False when it cannot right now (handshake not
complete, close sent, connection lost, transport paused by flow control), so the caller
takes the ASGI path, which waits or fails as it always does.

It also keeps less per connection (issue 17 point 4, measured in docs/PERFORMANCE.md): the
receive queue and the writable flag are app/lean_asyncio.py's instead of an asyncio.Queue and
Event, and the handshake's request and response (their Headers) are dropped once the
connection is accepted: uvicorn reads them only until then, the ASGI scope has its own copy
of the request headers.
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from app.lean_asyncio import LeanEvent, LeanQueue

SEND_TEXT_NOW = "stockql.send_text_now"
_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    """A whole, unmasked text frame (server to client)."""
    length = len(payload)
    if length < 126:
        return bytes((_FIN_TEXT, length)) + payload
    if length < 1 << 16:
        return struct.pack("!BBH", _FIN_TEXT, 126, length) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, length) + payload


class StockQLWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LeanQueue()  # type: ignore[assignment]
        self.writable = LeanEvent()  # type: ignore[assignment]
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Read by uvicorn only to answer the handshake, which is done now.
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set only for an accepted upgrade
        if scope is not None:
            scope["extensions"][SEND_TEXT_NOW] = self.send_text_now

    def send_text_now(self, text: str) -> bool:
        """Write `text` as one text frame now; False when it has to go through ASGI."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(text_frame(text.encode()))
        return True
