"""Many websocket subscribers in one process: the client side of bench/fanout_bench.py.

    .venv/bin/python bench/_fanout_client.py --port 8000 --mode graphql --symbols AAPL,MSFT \\
        --first 0 --count 5000 --out /tmp/records.npy

A lean client on purpose: one asyncio protocol object per connection, websocket frames parsed
by hand (RFC 6455, no extensions), no library between the socket and the message, so that the
client's own cost distorts the server's numbers as little as it can on a shared 2-core machine.
Connection `i` (from `--first`) subscribes to symbol `i % len(symbols)`.

- `graphql`: connects to /graphql with `graphql-transport-ws`, sends connection_init, then one
  `stockPrice(symbol)` subscription; subscribed once the snapshot (the first `next`) arrives.
- `plain`: connects to /prices/{SYMBOL} of bench/_fanout_plain.py; subscribed once its
  `{"type":"ready"}` arrives.
- `idle`: the same on its /idle/{SYMBOL} (accepted, nothing subscribed: the per-connection floor).
- `protocol`: what `graphql` sends, to its /protocol (graphql-transport-ws with no GraphQL
  behind it: the protocol's floor under `stockPrice`).

Every later message carrying `"timestamp":"..."` is recorded as (connection, publish time,
receive time), the publish time being that timestamp (the publisher sets it just before it
appends the event). Talks to the bench on stdin/stdout, one JSON line each way: it prints
`{"ready": ...}` once every connection is subscribed or failed, then waits for a line on stdin,
closes everything, saves the records to `--out` and prints `{"done": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from array import array
from datetime import datetime
from typing import cast

import orjson
import uvloop

SUBSCRIPTION = (
    "subscription ($symbol: String!) { stockPrice(symbol: $symbol) "
    "{ symbol price volume change changePercent timestamp sequence } }"
)
TIMESTAMP = b'"timestamp":"'
# Modes speaking graphql-transport-ws, and their paths.
GRAPHQL_TRANSPORT_WS = {"graphql": "/graphql", "protocol": "/protocol"}
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask; the mask key is random per frame)."""
    header = bytearray([0x80 | opcode])
    length = len(payload)
    if length < 126:
        header.append(0x80 | length)
    elif length < 1 << 16:
        header.append(0x80 | 126)
        header += length.to_bytes(2, "big")
    else:
        header.append(0x80 | 127)
        header += length.to_bytes(8, "big")
    key = os.urandom(4)
    repeated = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        length, "big"
    )
    return bytes(header) + key + masked


class Records:
    """What every connection of this process received, in flat arrays."""

    def __init__(self) -> None:
        self.connection = array("l")
        self.published = array("d")
        self.received = array("d")
        self.errors: list[str] = []
        self.closed_by_server = 0
        # Subscriptions the server completed while the connection stayed open.
        self.ended = 0


class Subscriber(asyncio.Protocol):
    def __init__(
        self, index: int, symbol: str, mode: str, host: str, port: int, records: Records
    ) -> None:
        self.index = index
        self.symbol = symbol
        self.mode = mode
        self.host = host
        self.port = port
        self.records = records
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.stopping = False
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = transport = cast("asyncio.Transport", transport)
        if self.mode in GRAPHQL_TRANSPORT_WS:
            path = GRAPHQL_TRANSPORT_WS[self.mode]
            protocol = "Sec-WebSocket-Protocol: graphql-transport-ws\r\n"
        elif self.mode == "idle":
            path, protocol = f"/idle/{self.symbol}", ""
        else:
            path, protocol = f"/prices/{self.symbol}", ""
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.fail(f"handshake refused: {status.decode(errors='replace')}")
                return
            self.upgraded = True
            if self.mode in GRAPHQL_TRANSPORT_WS:
                self.send_json({"type": "connection_init", "payload": {}})
        self.read_frames()

    def read_frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            opcode = buffer[0] & 0x0F
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            end = start + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[start:end])
            del buffer[:end]
            # Servers here send whole messages; a fragmented one would be counted as an error.
            if opcode in (TEXT, BINARY):
                self.on_message(payload)
            elif opcode == PING:
                self.write(masked_frame(PONG, payload))
            elif opcode == CLOSE:
                if not self.stopping:
                    self.records.closed_by_server += 1
                    self.fail(f"closed by the server: {payload[:2].hex()} {payload[2:]!r}")
                self.write(masked_frame(CLOSE, payload[:2]))
                if self.transport is not None:
                    self.transport.close()
                return
            elif opcode != PONG:
                self.fail(f"unexpected frame opcode {opcode}")

    def on_message(self, payload: bytes) -> None:
        if self.subscribed.done():
            at = payload.find(TIMESTAMP)
            if at >= 0:
                start = at + len(TIMESTAMP)
                text = payload[start : payload.find(b'"', start)].decode()
                records = self.records
                records.received.append(time.time())
                records.published.append(datetime.fromisoformat(text).timestamp())
                records.connection.append(self.index)
                return
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind == "connection_ack":
            variables = {"symbol": self.symbol}
            payload_ = {"query": SUBSCRIPTION, "variables": variables}
            self.send_json({"id": "1", "type": "subscribe", "payload": payload_})
        elif kind in ("next", "ready") and not self.subscribed.done():
            if "errors" in message.get("payload", {}):
                self.fail(f"subscription refused: {payload[:300]!r}")
            else:
                self.subscribed.set_result(None)
        elif kind == "complete" and self.subscribed.done():
            self.records.ended += 1
        elif kind not in ("ping", "pong") or "errors" in message.get("payload", {}):
            self.fail(f"unexpected message {payload[:300]!r}")

    def send_json(self, message: dict[str, object]) -> None:
        self.write(masked_frame(TEXT, orjson.dumps(message)))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def fail(self, reason: str) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(reason))  # open_one records it
        elif len(self.records.errors) < 20:
            self.records.errors.append(f"#{self.index} {self.symbol}: {reason}")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.stopping and self.subscribed.done():
            self.records.closed_by_server += 1
            self.fail(f"connection lost: {exc}")
        elif not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"connection lost: {exc}"))


async def open_one(
    index: int,
    symbol: str,
    arguments: argparse.Namespace,
    records: Records,
    limit: asyncio.Semaphore,
) -> Subscriber | None:
    loop = asyncio.get_running_loop()
    subscriber: Subscriber | None = None
    subscribed = False
    async with limit:
        try:
            async with asyncio.timeout(arguments.connect_timeout):
                _, subscriber = await loop.create_connection(
                    lambda: Subscriber(
                        index, symbol, arguments.mode, arguments.host, arguments.port, records
                    ),
                    arguments.host,
                    arguments.port,
                )
                await subscriber.subscribed
            subscribed = True
            return subscriber
        except (OSError, TimeoutError) as error:
            if len(records.errors) < 20:
                records.errors.append(f"#{index} {symbol}: {type(error).__name__}: {error}")
            return None
        finally:
            # Also when cancelled at the setup deadline: no half-open connection stays behind.
            if not subscribed and subscriber is not None and subscriber.transport is not None:
                subscriber.stopping = True
                subscriber.transport.close()


async def main(arguments: argparse.Namespace) -> None:
    symbols = arguments.symbols.split(",")
    records = Records()
    limit = asyncio.Semaphore(arguments.concurrency)
    started = time.monotonic()
    indexes = range(arguments.first, arguments.first + arguments.count)
    opening = [
        asyncio.create_task(open_one(i, symbols[i % len(symbols)], arguments, records, limit))
        for i in indexes
    ]
    done, pending = await asyncio.wait(opening, timeout=arguments.setup_timeout)
    for task in pending:
        task.cancel()
    await asyncio.wait(opening)
    subscribers = [task.result() for task in done if task.result() is not None]
    if pending:
        records.errors.insert(0, f"{len(pending)} not subscribed within the setup deadline")
    ready = {
        "ready": len(subscribers),
        "failed": arguments.count - len(subscribers),
        "seconds": round(time.monotonic() - started, 2),
        "errors": records.errors[:5],
        "indexes": [subscriber.index for subscriber in subscribers],
    }
    print(orjson.dumps(ready).decode(), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for subscriber in subscribers:
        subscriber.stopping = True
        if subscriber.transport is not None:
            subscriber.transport.close()
    import numpy as np  # late: not loaded while measuring

    np.save(
        arguments.out,
        np.rec.fromarrays(
            [
                np.frombuffer(records.connection, dtype=np.int64),
                np.frombuffer(records.published, dtype=np.float64),
                np.frombuffer(records.received, dtype=np.float64),
            ],
            names="connection,published,received",
        ),
    )
    done = {
        "done": len(records.received),
        "closed_by_server": records.closed_by_server,
        "ended": records.ended,
        "errors": records.errors[:5],
    }
    print(orjson.dumps(done).decode(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("graphql", "protocol", "plain", "idle"), required=True)
    parser.add_argument("--symbols", required=True, help="comma separated")
    parser.add_argument("--first", type=int, default=0, help="index of the first connection")
    parser.add_argument("--count", type=int, required=True, help="connections to open")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight")
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="per connection")
    parser.add_argument("--setup-timeout", type=float, default=180.0, help="for all of them")
    parser.add_argument("--out", required=True, help="records are saved here (.npy)")
    uvloop.run(main(parser.parse_args()))
