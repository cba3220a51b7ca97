"""predict latency through the API next to a trivial query, and training time.

    .venv/bin/python bench/predict_bench.py [--rounds 200] [--no-train]

One process: the app on a temporary SQLite file with the simulator (10 years of daily bars per
symbol), behind a real uvicorn on loopback, driven by httpx from the same event loop. First,
unless --no-train, the model is trained with the default configuration on the five default
symbols (walk-forward evaluation of every candidate, then the final fit) and activated, as
`stockql train` does; then `predict(input: {symbol: "AAPL"})` (stored history, the active
model) and `{ symbols }` are timed in alternation by a signed-in client.

Targets (issue 5): predict under 20 ms p50; final fit under 60 s; walk-forward under 5 min.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2 cores: tree models crawl with more threads

from app.settings import Settings
from app.training import load_histories, train_and_store
from domain.signals.training import TrainingConfig
from tests.support.accounts import bearer, signed_up
from tests.support.server import RunningServer, running_server

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "TSLA")
PREDICT = (
    'mutation { predict(input: {symbol: "AAPL"}) { __typename ... on Prediction { method } } }'
)
TRIVIAL = "{ symbols }"


async def train(server: RunningServer) -> None:
    runtime = server.app.state.runtime
    histories = await load_histories(runtime, SYMBOLS, first=None, last=None)
    started = time.perf_counter()
    model = await train_and_store(runtime, histories, TrainingConfig())
    total = time.perf_counter() - started
    info = model.info
    rows = sum(len(series) for series in histories.values())
    print(f"training on {len(SYMBOLS)} symbols, {rows} daily bars: {total:.1f} s in all")
    print(f"  walk-forward (every candidate): {info.walk_forward_seconds:.1f} s")
    print(f"  final fit ({info.algorithm}): {info.final_fit_seconds:.1f} s")
    print(f"  walk-forward balanced accuracy {info.metrics.balanced_accuracy:.3f}")


async def measure(server: RunningServer, rounds: int) -> None:
    token, _ = await signed_up(server)
    headers = bearer(token)
    timings: dict[str, list[float]] = {"predict": [], "trivial": []}
    method = ""
    for round_number in range(rounds + 10):
        for name, query in (("predict", PREDICT), ("trivial", TRIVIAL)):
            started = time.perf_counter()
            response = await server.client.post("/graphql", json={"query": query}, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            body = response.json()
            assert "errors" not in body, body
            if name == "predict":
                method = body["data"]["predict"]["method"]
            if round_number >= 10:  # warm-up rounds are not counted
                timings[name].append(elapsed)
    for name, values in timings.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(
            f"{name:8} p50 {statistics.median(values):7.2f} ms  p95 {p95:7.2f} ms  ({len(values)})"
        )
    ratio = statistics.median(timings["predict"]) / statistics.median(timings["trivial"])
    print(f"predict ({method}) / trivial query (p50): {ratio:.1f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            env="test",
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            migrate_on_start=True,
            worker_in_process=False,
            symbols=SYMBOLS,
            jwt_secret="bench-secret-with-at-least-thirty-two-bytes",
            password_time_cost=1,
            password_memory_kib=1024,
        )
        async with running_server(settings) as server:
            if not args.no_train:
                await train(server)
            await measure(server, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
