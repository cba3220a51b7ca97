"""Cached latestPrice throughput of `stockql serve --workers 2` against one process, same run.

    .venv/bin/python bench/serve_workers_bench.py [--duration 10] [--connections 16] [--rounds 2]
        [--redis-url redis://127.0.0.1:6379/15]

Needs wrk and a Redis (more than one process needs it; the single process gets the same one,
so both serve the quote from the same cache). Each round runs wrk against one process, then
against two; the goal (issue 17) is two processes >= 1.6x one on a 2-core machine, where wrk
itself takes part of one core. The response cache is off in both (STOCKQL_RESPONSE_CACHE=false):
this measures how execution spreads over the cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from latest_price_load import (
    PYTHON,
    QUERY,
    WRK_SCRIPT,
    LoadResult,
    Target,
    run_wrk,
    start_server,
)

from tests.support.server import free_port


def main(duration: int, connections: int, rounds: int, redis_url: str) -> None:
    stockql = str(PYTHON.with_name("stockql"))
    with tempfile.TemporaryDirectory(prefix="stockql-workers-") as name, ExitStack() as stack:
        directory = Path(name)
        targets = []
        for workers in (1, 2):
            port = free_port()
            env = {
                "STOCKQL_REDIS_URL": redis_url,
                "STOCKQL_SERVE_WORKERS": str(workers),
                # The executed path, as measured before the response cache came in.
                "STOCKQL_RESPONSE_CACHE": "false",
            }
            start_server(stack, f"workers-{workers}", [stockql, "serve"], directory, port, env)
            body = json.dumps({"query": QUERY})
            targets.append(Target(f"{workers} process", f"http://127.0.0.1:{port}/graphql", body))
        script = directory / "quote.lua"
        script.write_text(WRK_SCRIPT)
        for target in targets:
            target.fetch()
            run_wrk(target, script, duration=2, connections=connections)  # warm up
        results: dict[str, list[LoadResult]] = {target.name: [] for target in targets}
        for round_number in range(1, rounds + 1):
            for target in targets:
                result = run_wrk(target, script, duration=duration, connections=connections)
                results[target.name].append(result)
                print(
                    f"round {round_number} {target.name:<10}{result.requests_per_second:>9.0f}"
                    f" req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                )
    one, two = (statistics.mean(r.requests_per_second for r in results[t.name]) for t in targets)
    print(f"\nmean: 1 process {one:.0f} req/s, 2 processes {two:.0f} req/s: {two / one:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    arguments = parser.parse_args()
    main(arguments.duration, arguments.connections, arguments.rounds, arguments.redis_url)
