"""Giving memory back to the system after large responses.

Building a multi-megabyte response allocates hundreds of MiB of short-lived objects and
buffers. Python frees them, but glibc's allocator keeps the freed pages inside its heap (only
the free top of the heap is ever returned, and a few live objects pin the rest), so a burst
of such responses left the server's RSS hundreds of MiB higher for good: eight answers of
12.6 MB each took it from 454 to 1,193 MiB, still 1,109 MiB minutes later. `malloc_trim(0)`
returns every free page wherever it is. It is called, after a full garbage collection (cyclic
garbage would otherwise wait for the rare oldest-generation run), a moment after a response of
at least LARGE_RESPONSE_BYTES, at most once per delay, in a thread (it walks the heap: ~45 ms
for 300 MiB freed). Where the C library has no malloc_trim (musl, macOS) nothing is done.
CPython's own 1 MiB arenas are freed only when empty and are beyond its reach: the cost budget
(graphql_schema/query_cost.py) is what keeps them few (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Above the dashboard's chart (5,000 bars with five indicators, ~2 MB), which needs no trim.
LARGE_RESPONSE_BYTES = 4 * 1024 * 1024
RELEASE_DELAY_SECONDS = 1.0


def malloc_trim() -> Callable[[], object] | None:
    """glibc's malloc_trim(0), or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


class FreedMemoryRelease:
    """Runs `trim` `delay_seconds` after a call of `soon`: once for all the calls until it
    starts, and once more after it for the calls while it was running."""

    def __init__(
        self,
        trim: Callable[[], object] | None,
        delay_seconds: float = RELEASE_DELAY_SECONDS,
    ) -> None:
        self._trim = trim
        self._delay = delay_seconds
        self._scheduled = self._running = self._again = False
        self.runs = 0

    def soon(self) -> None:
        if self._trim is None or self._scheduled:
            return
        if self._running:
            # Memory freed after this run walked past it is released by the next one.
            self._again = True
            return
        self._scheduled = True
        asyncio.get_running_loop().call_later(self._delay, self._start)

    def _start(self) -> None:
        self._scheduled, self._running = False, True
        task = asyncio.ensure_future(self._run())
        task.add_done_callback(_log_failure)

    async def _run(self) -> None:
        try:
            if self._trim is not None:
                gc.collect()
                await asyncio.to_thread(self._trim)
                self.runs += 1
        finally:
            self._running = False
            if self._again:
                self._again = False
                self.soon()


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("releasing freed memory failed", exc_info=task.exception())


class ReleaseAfterLargeResponses:
    """ASGI middleware: asks `release` to run after an HTTP response of `threshold` bytes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        release: FreedMemoryRelease,
        threshold: int = LARGE_RESPONSE_BYTES,
    ) -> None:
        self.app = app
        self.release = release
        self.threshold = threshold

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            # Handed on, not awaited: no frame of ours for a websocket's whole life.
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = 0

        async def counting_send(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if sent >= self.threshold:
                self.release.soon()
