"""How many trades per second the worker's stream path takes on one core, and the lag from a
trade's time to its price being published.

    .venv/bin/python bench/stream_bench.py [--duration 10] [--symbols 20] [--batch 50]
        [--rate 20000] [--redis-url URL] [--database-url URL]

A fake Finnhub (tests/support/fake_finnhub.py's protocol: trade messages of --batch trades,
the symbols taking turns) runs in a child process pinned to the second core and sends
--rate trades a second, or as fast as the client reads without it, stamping each message
with the time it is sent. Flat out, the lag is mostly the TCP buffers queueing ahead of a
saturated client; at a rate the client keeps up with, it is the stream path's own. This process
pinned to the first core is the worker's stream path exactly as `stockql worker` runs it
(app.stream_worker.streaming on a real runtime: the real FinnhubFeed, StreamIngest, the
Redis price feed with alerts, minute bars written every second to the database). Measured
over --duration seconds after a --warmup: trades received per second (the fake is held back
by TCP once the client falls behind, so this is what the client can take), prices published
per second, the lag from trade time to the event's append in Redis (the Redis Stream entry
id is Redis's clock in ms, on the same machine) p50/p99/max, and this process's CPU seconds.

Without --redis-url a private redis-server is started on a free port (pub/sub channels are
server-wide); without --database-url a temporary SQLite file is used. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import redis
from aiohttp import WSMsgType, web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.adapters.events.price_feed import stream_key  # noqa: E402
from app.adapters.symbol_directory import LISTINGS  # noqa: E402
from app.migrate import upgrade_database  # noqa: E402
from app.runtime import open_runtime  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.stream_worker import streaming  # noqa: E402
from domain.price_codec import decode_price  # noqa: E402
from tests.support.server import free_port  # noqa: E402

KEY = "bench-key"


def pin(core: int) -> None:
    """Run this process on one core (when the machine has it)."""
    if hasattr(os, "sched_setaffinity") and 0 <= core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def serve_fake_feed(port: int, symbols: list[str], batch: int, rate: int, core: int) -> None:
    """The fake Finnhub, in its own process: once the client subscribed to every symbol,
    `rate` trades a second in messages of `batch` (0: as fast as the connection takes them)."""
    pin(core)
    tick = batch / rate if rate else 0.0

    async def socket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        subscribed: set[str] = set()
        sender: asyncio.Task[None] | None = None

        async def send_forever() -> None:
            price, turn = 100.0, 0
            due = time.monotonic()
            while not ws.closed:
                if tick:
                    due += tick
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                now_ms = int(time.time() * 1000)
                data = []
                for _ in range(batch):
                    turn += 1
                    price += 0.01 if turn % 3 else -0.02
                    symbol = symbols[turn % len(symbols)]
                    data.append(
                        {"s": symbol, "p": round(price, 2), "t": now_ms, "v": 10, "c": None}
                    )
                await ws.send_str(orjson.dumps({"data": data, "type": "trade"}).decode())

        async for message in ws:
            if message.type is WSMsgType.TEXT:
                request_body = orjson.loads(message.data)
                if request_body.get("type") == "subscribe":
                    subscribed.add(request_body["symbol"])
                if sender is None and subscribed >= set(symbols):
                    sender = asyncio.create_task(send_forever())
        if sender is not None:
            sender.cancel()
        return ws

    app = web.Application()
    app.router.add_get("/", socket)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def wait_listening(port: int, within: float = 60.0) -> None:
    """Until something accepts connections on the loopback `port` (the child imports first)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the fake feed did not listen on port {port} within {within} s")


def start_redis(directory: str, core: int) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; pass --redis-url")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if hasattr(os, "sched_setaffinity") and 0 <= core < (os.cpu_count() or 1):
        os.sched_setaffinity(process.pid, {core})
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


async def measure(
    args: argparse.Namespace, redis_url: str, database_url: str, feed_url: str
) -> dict[str, object]:
    symbols = [listing.symbol for listing in LISTINGS[: args.symbols]]
    settings = Settings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        symbols=tuple(symbols),
        max_live_symbols=0,
        stream_provider="finnhub",
        finnhub_api_key=KEY,
        finnhub_stream_url=feed_url,
        finnhub_max_symbols=max(50, args.symbols),
        stream_follow_seconds=5.0,
        stream_flush_seconds=1.0,
        log_level="warning",
    )
    async with open_runtime(settings) as runtime, streaming(runtime, is_leader=lambda: True):

        def received_so_far() -> float:
            labels = {"provider": "finnhub"}
            sample = runtime.metrics.registry.get_sample_value(
                "stockql_stream_trades_total", labels
            )
            return sample or 0.0

        await asyncio.sleep(args.warmup)
        started, received_before = time.time(), received_so_far()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(args.duration)
        ended, received = time.time(), received_so_far() - received_before
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        bars = await runtime.bar_store.load_minute_bars(symbols[0])
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    lags, published = published_lags(redis_url, symbols, started, ended)
    return {
        "duration_s": round(ended - started, 2),
        "symbols": args.symbols,
        "batch": args.batch,
        "rate": args.rate or "flat out",
        "trades_per_s": round(received / (ended - started)),
        "published_per_s": round(published / (ended - started)),
        "lag_ms_p50": round(float(np.percentile(lags, 50)), 1) if lags.size else None,
        "lag_ms_p99": round(float(np.percentile(lags, 99)), 1) if lags.size else None,
        "lag_ms_max": round(float(lags.max()), 1) if lags.size else None,
        "worker_cpu_s": round(cpu, 2),
        "minute_bars_of_first_symbol": len(bars),
    }


def published_lags(
    redis_url: str, symbols: list[str], started: float, ended: float
) -> tuple[np.ndarray, int]:
    """Append time (the entry id's ms) minus trade time, for the events in the window."""
    client = redis.Redis.from_url(redis_url)
    lags: list[float] = []
    for symbol in symbols:
        entries = client.xrange(
            stream_key(symbol), min=str(int(started * 1000)), max=str(int(ended * 1000))
        )
        for entry_id, fields in entries:
            appended_ms = int(entry_id.split(b"-")[0])
            event = decode_price(next(iter(fields.values())))
            lags.append(appended_ms - event.timestamp.timestamp() * 1000)
    client.close()
    return np.asarray(lags, dtype=np.float64), len(lags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rate", type=int, default=0, help="trades per second (0: flat out)")
    parser.add_argument(
        "--helpers-core", type=int, default=1, help="core of the fake feed and Redis (-1: any)"
    )
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="stream-bench-")
    redis_process = None
    feed = None
    try:
        redis_url = args.redis_url
        if redis_url is None:
            redis_process, redis_url = start_redis(directory, core=args.helpers_core)
        database_url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        upgrade_database(database_url)
        port = free_port()
        symbols = [listing.symbol for listing in LISTINGS[: args.symbols]]
        feed = multiprocessing.get_context("spawn").Process(
            target=serve_fake_feed,
            args=(port, symbols, args.batch, args.rate, args.helpers_core),
            daemon=True,
        )
        feed.start()
        wait_listening(port)
        pin(0)
        result = asyncio.run(measure(args, redis_url, database_url, f"ws://127.0.0.1:{port}/"))
        result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        result["python"] = platform.python_version()
        print(json.dumps(result, indent=2))
    finally:
        if feed is not None:
            feed.terminate()
            feed.join(5)
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(5)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
