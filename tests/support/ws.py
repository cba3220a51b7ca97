"""A small GraphQL-over-websocket client speaking both protocols, for API tests.

graphql-transport-ws (the current one) and graphql-ws (the legacy subscriptions-transport-ws)
differ in message names: subscribe/next/complete against start/data/stop."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class GraphQLWebSocket:
    def __init__(self, connection: ClientConnection, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol
        self._ids = itertools.count(1)

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(message).decode())

    async def receive(self, *, within: float = 10.0) -> dict[str, Any]:
        """The next message that is not a keep-alive."""
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), within)
            # Browsers' graphql-ws clients parse `event.data` as a string: binary frames break them.
            assert isinstance(raw, str), f"a binary frame, not text: {raw[:80]!r}"
            message: dict[str, Any] = orjson.loads(raw)
            if message.get("type") not in ("ka", "ping", "pong"):
                return message

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send connection_init; returns the server's answer (connection_ack or an error)."""
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        operation_id = str(next(self._ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send(
            {
                "id": operation_id,
                "type": kind,
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return operation_id

    async def next_payload(self, operation_id: str, *, within: float = 10.0) -> dict[str, Any]:
        """The next result of one operation: {"data": ...} or {"errors": [...]}.
        A graphql-transport-ws `error` message comes back as {"errors": payload}."""
        while True:
            message = await self.receive(within=within)
            if message.get("id") != operation_id:
                continue
            if message["type"] in ("next", "data"):
                payload: dict[str, Any] = message["payload"]
                return payload
            if message["type"] == "error":
                errors = message["payload"]
                return {"errors": errors if isinstance(errors, list) else [errors]}
            raise AssertionError(f"unexpected message {message}")

    async def stop(self, operation_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.send({"id": operation_id, "type": kind})


@asynccontextmanager
async def graphql_ws(
    base_url: str, *, protocol: str = TRANSPORT_WS, origin: str | None = None
) -> AsyncIterator[GraphQLWebSocket]:
    url = base_url.replace("http://", "ws://") + "/graphql"
    headers = {"Origin": origin} if origin else None
    async with connect(url, subprotocols=[protocol], additional_headers=headers) as connection:  # type: ignore[list-item]
        yield GraphQLWebSocket(connection, protocol)
