"""Price events at a steady rate through the project's price feed: the publisher of
bench/fanout_bench.py.

    .venv/bin/python bench/_fanout_publisher.py --redis-url redis://127.0.0.1:6379/14 \\
        --symbols AAPL,MSFT --rate 100

What the worker does for each new price (domain.price_publishing.PricePublisher, wired as in
app.runtime): RedisPriceFeed.append, which XADDs the event to the symbol's capped stream and
publishes it on `stock:{SYMBOL}` and `stocks:all` through the Redis event bus. Symbols take
turns, so at `--rate` events per second each of N symbols gets rate/N per second. The event's
`timestamp` is the wall-clock time just before the append: the bench's clients measure
latency from it. Events follow a fixed schedule (event k is due at start + k / rate); one that
is late goes out at once, so the rate holds on average. Runs until stdin closes or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import threading
from datetime import UTC, datetime

import redis.asyncio as aioredis
import uvloop
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.adapters.events.bus import open_event_bus
from app.adapters.events.price_feed import RedisPriceFeed
from domain.events import PriceUpdated


async def publish(redis_url: str, symbols: list[str], rate: float) -> None:
    client = aioredis.from_url(
        redis_url, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 1)
    )
    prices = dict.fromkeys(symbols, 100.0)
    loop = asyncio.get_running_loop()
    try:
        async with open_event_bus(redis_url) as bus:
            feed = RedisPriceFeed(client, bus)
            start = loop.time()
            count = 0
            while True:
                delay = start + count / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                symbol = symbols[count % len(symbols)]
                previous = prices[symbol]
                price = prices[symbol] = round(previous * random.uniform(0.999, 1.001), 4)
                await feed.append(
                    PriceUpdated(
                        symbol=symbol,
                        price=price,
                        timestamp=datetime.now(UTC),
                        volume=float(random.randint(100, 10_000)),
                        change=round(price - previous, 4),
                        change_percent=round((price - previous) / previous * 100, 4),
                    )
                )
                count += 1
    finally:
        await client.aclose()


async def main(arguments: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    def wait_for_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop)

    loop.add_signal_handler(signal.SIGTERM, stop)
    # The bench holds stdin open while it runs: no publisher outlives it, even if it is killed.
    threading.Thread(target=wait_for_stdin, daemon=True).start()
    publishing = asyncio.create_task(
        publish(arguments.redis_url, arguments.symbols.split(","), arguments.rate)
    )
    await asyncio.wait([publishing, stopped], return_when=asyncio.FIRST_COMPLETED)
    if publishing.done():
        publishing.result()  # a publisher that failed says why
    publishing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await publishing


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--symbols", required=True, help="comma separated")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second, in all")
    uvloop.run(main(parser.parse_args()))
