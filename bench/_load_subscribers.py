"""Websocket subscribers held open through bench/load_test.py, in a process of their own.

    .venv/bin/python bench/_load_subscribers.py --base-url http://127.0.0.1:8000 --count 500 \\
        --notifications-every 10

Reads one JSON line on stdin first: {"tokens": [...]}, the virtual users' tokens. Connection
`i` speaks graphql-transport-ws; every `--notifications-every`-th one signs in with token
`i % len(tokens)` (in connection_init) and subscribes `userNotifications`, the others
subscribe `stockPrice` of symbol `i % len(SYMBOLS)`. Prints {"ready": n, "failed": n,
"errors": [...]} once every connection is subscribed or failed; on the next stdin line closes
them all and prints {"received": {kind: count}, "lost": n, "codes": {...}, "errors": [...]}.
A subscriber is lost when the server closes its connection or ends its subscription.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from typing import Any

import orjson
import uvloop
from _load_lines import heard, say
from _load_mix import STOCK_PRICE, SYMBOLS, USER_NOTIFICATIONS
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")
MAX_ERRORS = 20


class Tally:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.lost = 0

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)


class Subscriber:
    def __init__(self, index: int, kind: str, init: dict[str, Any], query: dict[str, Any]):
        self.index = index
        self.kind = kind
        self.init = init
        self.query = query
        self.connection: ClientConnection | None = None
        self.stopping = False

    async def open(self, url: str, within: float) -> None:
        """Connect, sign in and subscribe; raises when the server refuses."""
        async with asyncio.timeout(within):
            self.connection = await connect(url, subprotocols=[PROTOCOL], max_queue=64)
            await self.send({"type": "connection_init", "payload": self.init})
            ack = orjson.loads(await self.connection.recv())
            if ack.get("type") != "connection_ack":
                raise ConnectionError(f"connection_init answered {ack}")
            await self.send({"id": "1", "type": "subscribe", "payload": self.query})

    async def send(self, message: dict[str, Any]) -> None:
        assert self.connection is not None
        await self.connection.send(orjson.dumps(message).decode())

    async def receive(self, tally: Tally) -> None:
        """Count what arrives until the bench stops, or the server ends the subscription."""
        assert self.connection is not None
        try:
            async for raw in self.connection:
                message = orjson.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await self.send({"type": "pong"})
                    continue
                errors = (message.get("payload") or {}) if kind == "next" else {}
                if kind == "error":
                    errors = {"errors": message.get("payload") or [{}]}
                for error in errors.get("errors") or ():
                    tally.codes[str((error.get("extensions") or {}).get("code", "(no code)"))] += 1
                    tally.error(f"#{self.index} {self.kind}: {error}")
                if kind == "next" and "errors" not in message.get("payload", {}):
                    tally.received[self.kind] += 1
                elif kind in ("complete", "error"):
                    tally.lost += 1
                    tally.error(f"#{self.index} {self.kind}: ended by the server ({kind})")
                    return
        except ConnectionClosed as closed:
            if not self.stopping:
                tally.error(f"#{self.index} {self.kind}: {closed}")
        if not self.stopping:
            tally.lost += 1

    async def close(self) -> None:
        self.stopping = True
        if self.connection is not None:
            await self.connection.close()


def subscribers(count: int, tokens: list[str], notifications_every: int) -> list[Subscriber]:
    made = []
    for index in range(count):
        if tokens and notifications_every and index % notifications_every == 0:
            init = {"authToken": tokens[index % len(tokens)]}
            made.append(Subscriber(index, "userNotifications", init, {"query": USER_NOTIFICATIONS}))
        else:
            query = {"query": STOCK_PRICE, "variables": {"symbol": SYMBOLS[index % len(SYMBOLS)]}}
            made.append(Subscriber(index, "stockPrice", {}, query))
    return made


async def main(arguments: argparse.Namespace) -> None:
    tokens: list[str] = (await heard())["tokens"]
    url = arguments.base_url.replace("http://", "ws://") + "/graphql"
    tally = Tally()
    every = subscribers(arguments.count, tokens, arguments.notifications_every)
    limit = asyncio.Semaphore(arguments.concurrency)

    async def open_one(subscriber: Subscriber) -> bool:
        async with limit:
            try:
                await subscriber.open(url, arguments.connect_timeout)
            except (OSError, TimeoutError, ConnectionClosed) as error:
                tally.error(
                    f"#{subscriber.index} {subscriber.kind}: {type(error).__name__}: {error}"
                )
                return False
            return True

    opened = await asyncio.gather(*(open_one(subscriber) for subscriber in every))
    live = [subscriber for subscriber, ok in zip(every, opened, strict=True) if ok]
    kinds = Counter(subscriber.kind for subscriber in live)
    say(
        {
            "ready": len(live),
            "failed": len(every) - len(live),
            "kinds": kinds,
            "errors": tally.errors,
        }
    )
    receiving = [asyncio.create_task(subscriber.receive(tally)) for subscriber in live]
    await heard()
    await asyncio.gather(*(subscriber.close() for subscriber in live))
    await asyncio.gather(*receiving)
    say(
        {
            "received": tally.received,
            "lost": tally.lost,
            "codes": tally.codes,
            "errors": tally.errors,
        }
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--notifications-every", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    uvloop.run(main(parser.parse_args()))
