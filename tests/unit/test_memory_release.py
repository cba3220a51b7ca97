"""When the server gives freed memory back (app/memory_release.py): after large HTTP responses
only, once for many, and again for those that came while it ran."""

from __future__ import annotations

import asyncio
import threading

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.memory_release import FreedMemoryRelease, ReleaseAfterLargeResponses, malloc_trim
from tests.support.waiting import eventually

DELAY = 0.05


class CountingTrim:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return 1


def app_releasing_with(release: FreedMemoryRelease) -> ReleaseAfterLargeResponses:
    async def sized(request: Request) -> Response:
        return Response(b"x" * int(request.path_params["size"]))

    app = Starlette(routes=[Route("/{size:int}", sized)])
    return ReleaseAfterLargeResponses(app, release=release, threshold=1000)


async def test_only_large_responses_release_and_many_of_them_once() -> None:
    trim = CountingTrim()
    release = FreedMemoryRelease(trim, delay_seconds=DELAY)
    transport = httpx.ASGITransport(app=app_releasing_with(release))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/999")
        await asyncio.sleep(DELAY * 3)
        assert trim.calls == 0
        await asyncio.gather(*(client.get("/1000") for _ in range(5)))
        await eventually(lambda: release.runs == 1, within=5)
        await asyncio.sleep(DELAY * 3)
        assert trim.calls == 1


async def test_calls_while_it_waits_share_the_run_and_calls_while_it_runs_get_another() -> None:
    started, finish = threading.Event(), threading.Event()
    calls = 0

    def slow_trim() -> None:
        nonlocal calls
        calls += 1
        started.set()
        finish.wait(5)

    release = FreedMemoryRelease(slow_trim, delay_seconds=DELAY)
    release.soon()
    release.soon()  # while it waits: the same run covers it
    await asyncio.to_thread(started.wait, 5)
    release.soon()  # while it runs: memory freed meanwhile needs another
    release.soon()
    finish.set()
    await eventually(lambda: release.runs == 2, within=5)
    await asyncio.sleep(DELAY * 3)
    assert calls == 2


async def test_without_malloc_trim_nothing_is_scheduled() -> None:
    release = FreedMemoryRelease(None, delay_seconds=DELAY)
    release.soon()
    await asyncio.sleep(DELAY * 2)
    assert release.runs == 0


def test_glibc_has_malloc_trim() -> None:
    # This machine's (and the image's) C library is glibc.
    trim = malloc_trim()
    assert trim is not None
    trim()
