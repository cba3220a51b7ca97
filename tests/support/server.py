"""A real uvicorn server running the app in this process, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from app.main import create_app
from app.server_config import uvicorn_config
from app.settings import Settings

SHUTDOWN_SECONDS = 10


# The server closes a connection idle for STOCKQL_KEEP_ALIVE_SECONDS (5 s by default): a client
# that reused one at that very moment got a ReadError. It lets idle connections go first.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    app: Starlette
    base_url: str
    client: httpx.AsyncClient

    async def graphql(
        self,
        query: str,
        variables: dict[str, object] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> dict[str, object]:
        """POST a GraphQL document; asserts an HTTP 200 and returns the decoded body."""
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


@asynccontextmanager
async def serving(app: ASGIApp, port: int, settings: Settings | None = None) -> AsyncIterator[None]:
    """`app` served by uvicorn on 127.0.0.1:`port` as `stockql serve` serves it (with the limits
    of `settings`, by default the defaults), until exit."""
    config = uvicorn_config(
        app,
        settings or Settings.model_validate({"env": "test"}),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        # A test that failed with a connection still open must not hold up the next one.
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=SHUTDOWN_SECONDS * 3)
        except TimeoutError:
            # wait_for cancelled the stuck shutdown: fail this test, not the whole run.
            raise AssertionError("the server did not stop within its shutdown time") from None


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[RunningServer]:
    app = create_app(settings)
    port = free_port()
    async with serving(app, port, settings):
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=CLIENT_LIMITS) as client:
            yield RunningServer(app=app, base_url=base_url, client=client)
