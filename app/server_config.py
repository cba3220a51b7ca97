"""The uvicorn configuration of `stockql serve`, shared with the tests' real servers."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from app.http_protocol import deadline_http_protocol
from app.settings import Settings
from app.websocket_protocol import StockQLWebSocketProtocol


def uvicorn_config(
    app: ASGIApp, settings: Settings, *, host: str, port: int, **options: Any
) -> uvicorn.Config:
    """`app` on host:port with StockQL's protocols and limits; `options` are uvicorn's own."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=deadline_http_protocol(
            settings.request_read_timeout_seconds, settings.max_request_head_bytes
        ),
        ws=StockQLWebSocketProtocol if settings.ws_direct_writes else "websockets-sansio",
        # Websocket messages get the HTTP body limit (uvicorn's own default is 16 MiB).
        ws_max_size=settings.max_body_bytes,
        timeout_keep_alive=settings.keep_alive_seconds,
        **options,
    )
