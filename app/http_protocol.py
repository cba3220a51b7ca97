"""uvicorn's httptools protocol with a deadline for reading a request and a cap on its head.

uvicorn waits for a request's head and body as long as the client keeps the connection open:
a client sending a header line every few seconds (slowloris) or a body one byte at a time
holds a connection and its buffers indefinitely, and a head has no size limit. Here a request
must be read whole (head and body) within `read_timeout` seconds of its first byte, or of the
connection for the first request; a late head is answered 408, a late body closes the
connection (the application is already reading it and sees a disconnect). A head over
`max_head_bytes` (give or take one read) is answered 431. Idle keep-alive connections are uvicorn's
`timeout_keep_alive`; websocket connections leave this protocol at the upgrade.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _closing_response(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


_REQUEST_TIMEOUT = _closing_response(b"408 Request Timeout")
_HEAD_TOO_LARGE = _closing_response(b"431 Request Header Fields Too Large")
# Writes at least this large go out alone rather than be copied next to a response's head.
_JOIN_AT_MOST = 64 * 1024


class DeadlineHttpProtocol(HttpToolsProtocol):
    read_timeout: float = 10.0
    max_head_bytes: int = 64 * 1024

    _deadline: asyncio.TimerHandle | None = None
    _reading_head = False
    _head_bytes = 0
    _body_read = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._reading_head = True
        self._arm()

    def data_received(self, data: bytes) -> None:
        head_before = self._reading_head
        super().data_received(data)
        if head_before and self._reading_head and not self.transport.is_closing():
            # A head before and after this read, so all of it was head. A read that ends a
            # head or a body is not counted (it may hold both): asyncio reads at most 256 KiB.
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(_HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._reading_head, self._head_bytes, self._body_read = False, 0, False
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:  # not an upgrade
            self.cycle.transport = OneSendPerIteration(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._disarm()
        self._body_read = True
        super().on_message_complete()
        answered_first = self.cycle is not None and self.cycle.response_complete
        self._next_head_if_done()
        if answered_first and self.timeout_keep_alive_task is None:
            # uvicorn arms the idle timer when the response completes and stops it at every
            # read, so the reads of a body answered early (413) would leave it stopped.
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def on_response_complete(self) -> None:
        if self.cycle is not None and isinstance(self.cycle.transport, OneSendPerIteration):
            self.cycle.transport.flush()  # the whole response at once, not at the turn's end
        super().on_response_complete()
        self._next_head_if_done()

    def _next_head_if_done(self) -> None:
        # Once the request is read and answered, what comes next starts with a head. A
        # response may come first (413 to a body still arriving): the rest is body, not head.
        if self._body_read and self.cycle is not None and self.cycle.response_complete:
            self._reading_head = True

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._reading_head:
            self._refuse(_REQUEST_TIMEOUT)
        else:
            self.transport.close()

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        self.transport.write(response)
        self.transport.close()


class OneSendPerIteration:
    """A transport for one request's response: what it writes during one turn of the event
    loop goes out in one send at the end of the turn. uvicorn writes a response's head and
    its body separately, two sends (two system calls, two packets, two reads for the client)
    for a body that is there at once; with this, one. Large writes are not copied into one."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if len(data) >= _JOIN_AT_MOST:
            self.flush()
            self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


def deadline_http_protocol(read_timeout: float, max_head_bytes: int) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, with these limits."""
    return type(
        "DeadlineHttpProtocol",
        (DeadlineHttpProtocol,),
        {"read_timeout": read_timeout, "max_head_bytes": max_head_bytes},
    )
