"""History latency: GraphQL `columns` and `bars` against a plain orjson endpoint, one process.

    .venv/bin/python bench/history_bench.py [--rounds 200] [--no-http]

The app runs on the embedded defaults (simulator, in-process cache) with a temporary SQLite
file. Every measured request is a cache hit for the same ~2,520 daily AAPL bars. Requests go
through httpx's ASGI transport (no sockets), then, unless --no-http, through the real uvicorn
on loopback that runs the app, in the same process and event loop as the client.

Target: columns within 3x of plain (median).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.settings import Settings
from tests.support.server import running_server

SYMBOL = "AAPL"
FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
COLUMNS_QUERY = '{ history(symbol: "AAPL") { columns { timestamp open high low close volume } } }'
BARS_QUERY = '{ history(symbol: "AAPL") { bars { timestamp open high low close volume } } }'
PLAIN_PATH = "/bench/history"
TARGET = 3.0


@dataclass(frozen=True)
class Endpoint:
    name: str
    query: str | None  # None: GET the plain endpoint

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        if self.query is None:
            return await client.get(PLAIN_PATH)
        return await client.post("/graphql", json={"query": self.query})


ENDPOINTS = (
    Endpoint("columns", COLUMNS_QUERY),
    Endpoint("bars", BARS_QUERY),
    Endpoint("plain", None),
)


async def plain_history(request: Request) -> Response:
    """The same rows without GraphQL: the app's own HistoryService (a cache hit), then orjson."""
    history = await request.app.state.runtime.services.history.history(SYMBOL)
    # orjson writes the slotted domain Bar dataclasses as objects; OPT_UTC_Z spells UTC as
    # "Z" like the DateTime scalar.
    body = orjson.dumps(
        {"data": {"history": {"bars": history.series.bars()}}}, option=orjson.OPT_UTC_Z
    )
    return Response(body, media_type="application/json")


def rows_of(endpoint: Endpoint, body: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in body, body["errors"]
    history = body["data"]["history"]
    if endpoint.name != "columns":
        rows: list[dict[str, Any]] = history["bars"]
        return rows
    columns = history["columns"]
    lists = [columns[field] for field in FIELDS]
    return [dict(zip(FIELDS, values, strict=True)) for values in zip(*lists, strict=True)]


async def check_same_data(client: httpx.AsyncClient) -> int:
    """Asserts that the three endpoints return the same rows; returns how many."""
    results = []
    for endpoint in ENDPOINTS:
        response = await endpoint.send(client)
        assert response.status_code == 200, response.text[:500]
        results.append(rows_of(endpoint, orjson.loads(response.content)))
    first = results[0]
    for endpoint, rows in zip(ENDPOINTS, results, strict=True):
        assert rows == first, f"{endpoint.name} differs from {ENDPOINTS[0].name}"
    assert len(first) > 2000, len(first)
    return len(first)


async def measure(client: httpx.AsyncClient, rounds: int) -> dict[str, list[float]]:
    """Seconds per request; each round sends every endpoint once, in a rotating order, so
    drift, GC and cache effects fall on all of them alike."""
    samples: dict[str, list[float]] = {endpoint.name: [] for endpoint in ENDPOINTS}
    for round_number in range(rounds):
        shift = round_number % len(ENDPOINTS)
        for endpoint in ENDPOINTS[shift:] + ENDPOINTS[:shift]:
            started = time.perf_counter()
            response = await endpoint.send(client)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{endpoint.name}: HTTP {response.status_code}")
            samples[endpoint.name].append(elapsed)
    return samples


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def report(title: str, samples: dict[str, list[float]]) -> float:
    """Prints medians, p95 and ratios; returns columns/plain."""
    print(f"\n{title}")
    print(f"  {'endpoint':<10}{'median ms':>12}{'p95 ms':>10}{'requests':>10}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        median, high = medians[name] * 1e3, p95(values) * 1e3
        print(f"  {name:<10}{median:>12.2f}{high:>10.2f}{len(values):>10}")
    columns_ratio = medians["columns"] / medians["plain"]
    verdict = "met" if columns_ratio <= TARGET else "MISSED"
    print(f"  columns/plain {columns_ratio:5.2f}x  (target <= {TARGET:g}x: {verdict})")
    print(f"  bars/plain    {medians['bars'] / medians['plain']:5.2f}x")
    return columns_ratio


async def run(client: httpx.AsyncClient, rounds: int, warmup: int) -> dict[str, list[float]]:
    count = await check_same_data(client)
    print(f"{client.base_url}: columns, bars and plain send the same {count} bars of {SYMBOL}")
    await measure(client, warmup)
    return await measure(client, rounds)


async def main(rounds: int, warmup: int, http: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="stockql-bench-") as directory:
        settings = Settings(
            env="test",
            database_url=f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}",
            migrate_on_start=True,
            worker_in_process=False,
        )
        # uvicorn runs the app and its lifespan on loopback; the ASGI transport calls the
        # same app object directly, without sockets.
        async with running_server(settings) as server:
            server.app.router.routes.insert(0, Route(PLAIN_PATH, plain_history))
            transport = httpx.ASGITransport(app=server.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://asgi") as client:
                asgi = await run(client, rounds, warmup)
            real = await run(server.client, rounds, warmup) if http else None
    report(f"ASGI transport, in process ({rounds} rounds after {warmup} warm-up)", asgi)
    if real is not None:
        title = f"real HTTP, uvicorn on loopback, same process as the client ({rounds} rounds)"
        report(title, real)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="measured rounds (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured rounds (default 20)")
    parser.add_argument("--no-http", action="store_true", help="skip the real-HTTP run")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.warmup, not arguments.no_http))
