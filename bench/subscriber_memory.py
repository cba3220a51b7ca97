"""What a subscriber costs in memory and set-up: StockQL against the plain route and its floor.

    .venv/bin/python bench/subscriber_memory.py [--count 10000] [--modes graphql,plain,idle]
        [--tracemalloc] [--rounds N] [--keep DIR]

Issue 17 point 4. For each mode a fresh server starts (no events are published: memory and
set-up only; bench/fanout_bench.py measures delivery), its RSS is read once it is healthy,
the clients of bench/fanout_bench.py open --count websockets, and the RSS is read again once
every one is subscribed:

- `graphql`: `stockql serve` as bench/fanout_bench.py starts it, `stockPrice(symbol)` over
  graphql-transport-ws;
- `plain`: bench/_fanout_plain.py's /prices/{SYMBOL} (the same event bus, no GraphQL);
- `protocol`: its /protocol: graphql-transport-ws spoken as for `graphql` (init, ack,
  subscribe, the latest event from the same price feed, `next`) with no GraphQL behind it,
  the protocol's floor under `stockPrice`;
- `idle`: its /idle/{SYMBOL}: accepted and left waiting, nothing subscribed, i.e. what uvicorn,
  the websockets library and Starlette alone keep per connection, the floor under both;
- `idle-ours`: the same served by app/websocket_protocol.py's protocol (what `stockql serve`
  uses) instead of uvicorn's own.

With --rounds N every mode is measured N times, the modes' order rotating each round (the
machine's noise is as wide as the differences sought: the same commit measured 9.9 s and
12.4 s minutes apart); the ratios to the plain route are taken within each round, and their
medians are printed.

With --tracemalloc each server runs under bench/_traced_server.py (12 frames; RSS and times
are then those of a traced process, slower and bigger: compare them only with each other) and
the growth of the Python heap between the two readings is grouped by layer: the innermost
frame of each allocation that is not the standard library (an asyncio.Queue made by uvicorn
counts as uvicorn), project files by module, libraries by package and subpackage.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fanout_bench import (
    BENCH,
    PYTHON,
    ROOT,
    SPARE_DESCRIPTORS,
    SYMBOLS,
    raise_descriptor_limit,
    read_json_line,
    rss_mib,
    start_process,
    start_redis,
)
from latest_price_load import stop, wait_healthy

from tests.support.server import free_port

SETTLE_SECONDS = 3.0
PROJECT = ("app", "graphql_schema", "domain", "resolvers")
CLIENT_MODES = {"idle-ours": "idle"}


@dataclass
class Reading:
    mode: str
    count: int
    subscribed: int
    idle_mib: float
    subscribed_mib: float
    setup_seconds: float
    setup_cpu: dict[str, float]  # CPU seconds spent while subscribing: server, clients, redis
    errors: list[str]
    layers: list[tuple[str, float, float]]  # layer, KiB and blocks per subscriber

    @property
    def kib_each(self) -> float:
        if not self.subscribed:
            return math.nan
        return (self.subscribed_mib - self.idle_mib) * 1024 / self.subscribed


def layer(filename: str) -> str | None:
    """The layer a source file belongs to; None for the standard library."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        package = parts[parts.index("site-packages") + 1 :]
        return "/".join(package[:2]).removesuffix(".py")
    try:
        inside = path.relative_to(ROOT).parts
    except ValueError:
        return None
    if inside and inside[0] in PROJECT:
        return "/".join(inside)
    return "/".join(inside) if inside and inside[0] == "bench" else None


def by_layer(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, subscribers: int
) -> list[tuple[str, float, float]]:
    sizes: dict[str, float] = defaultdict(float)
    blocks: dict[str, float] = defaultdict(float)
    for difference in after.compare_to(before, "traceback"):
        frames = list(difference.traceback)  # oldest first
        name = next(
            (found for frame in reversed(frames) if (found := layer(frame.filename))),
            f"(standard library) {Path(frames[-1].filename).name}",
        )
        sizes[name] += difference.size_diff
        blocks[name] += difference.count_diff
    rows = [(name, sizes[name] / 1024 / subscribers, blocks[name] / subscribers) for name in sizes]
    return sorted(rows, key=lambda row: -row[1])


def snapshot(server: subprocess.Popen[bytes], directory: Path, number: int) -> tracemalloc.Snapshot:
    server.send_signal(signal.SIGUSR1)
    done = directory / f"snapshot-{number}.done"
    deadline = time.monotonic() + 600
    while not done.exists():
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError(f"no snapshot {number} from the server")
        time.sleep(0.2)
    return tracemalloc.Snapshot.load(str(done.with_suffix(".tracemalloc")))


def server_command(mode: str, port: int, traced: bool) -> list[str]:
    command = (
        ["stockql", "serve", f"--port={port}"]
        if mode == "graphql"
        else [str(BENCH / "_fanout_plain.py"), f"--port={port}"]
    )
    if mode == "idle-ours":
        command.append("--ws-protocol=stockql")
    if traced:
        return [str(PYTHON), str(BENCH / "_traced_server.py"), *command]
    if mode == "graphql":
        return [str(PYTHON.with_name("stockql")), *command[1:]]
    return [str(PYTHON), *command]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    mode: str, arguments: argparse.Namespace, run: Path, redis_url: str, redis_pid: int
) -> Reading:
    run.mkdir()
    port = free_port()
    env = os.environ | {
        "STOCKQL_DATABASE_URL": f"sqlite+aiosqlite:///{run / 'memory.db'}",
        "STOCKQL_REDIS_URL": redis_url,
        "STOCKQL_SYMBOLS": ",".join(SYMBOLS),
        "STOCKQL_HOST": "127.0.0.1",
        "STOCKQL_PORT": str(port),
        "STOCKQL_LOG_LEVEL": "warning",
        "STOCKQL_WORKER_IN_PROCESS": "false",
        "STOCKQL_QUOTE_TTL_SECONDS": "3600",
        "STOCKQL_TRACE_TO": str(run),
    }
    with ExitStack() as stack:
        server = start_process(
            stack, mode, server_command(mode, port, arguments.tracemalloc), run, env
        )
        wait_healthy(mode, server, f"http://127.0.0.1:{port}/healthz", run / f"{mode}.log")
        time.sleep(SETTLE_SECONDS)
        idle = rss_mib(server.pid)
        before = snapshot(server, run, 0) if arguments.tracemalloc else None
        share = math.ceil(arguments.count / arguments.client_processes)
        clients = []
        server_cpu, redis_cpu = cpu_seconds(server.pid), cpu_seconds(redis_pid)
        started = time.monotonic()
        for number in range(arguments.client_processes):
            first, count = number * share, min(share, arguments.count - number * share)
            command = [
                str(PYTHON), str(BENCH / "_fanout_client.py"), f"--port={port}",
                f"--mode={CLIENT_MODES.get(mode, mode)}", f"--symbols={','.join(SYMBOLS)}",
                f"--first={first}",
                f"--count={count}", f"--concurrency={arguments.concurrency}",
                f"--out={run / f'client-{number}.npy'}",
                f"--setup-timeout={arguments.setup_timeout}",
            ]  # fmt: skip
            client = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            stack.callback(stop, client)
            clients.append(client)
        readies = [read_json_line(client, arguments.setup_timeout + 60) for client in clients]
        setup_seconds = time.monotonic() - started
        setup_cpu = {
            "server": cpu_seconds(server.pid) - server_cpu,
            "clients": sum(cpu_seconds(client.pid) for client in clients),
            "redis": cpu_seconds(redis_pid) - redis_cpu,
        }
        subscribed = sum(ready["ready"] for ready in readies)
        time.sleep(SETTLE_SECONDS)
        rss = rss_mib(server.pid)
        layers = []
        if before is not None:
            layers = by_layer(before, snapshot(server, run, 1), max(subscribed, 1))
        for client in clients:
            assert client.stdin is not None
            client.stdin.write(b"stop\n")
            client.stdin.flush()
        for client in clients:
            read_json_line(client, 120)
        stop(server)
    errors = [error for ready in readies for error in ready["errors"]]
    return Reading(
        mode, arguments.count, subscribed, idle, rss, setup_seconds, setup_cpu, errors, layers
    )


def report(readings: list[Reading], *, single: bool) -> None:
    print(
        "\n| mode | subscribed | RSS idle MiB | RSS subscribed MiB | KiB per subscriber "
        "| subscribed in s |"
    )
    print("|---|---|---|---|---|---|")
    for reading in readings:
        print(
            f"| {reading.mode} | {reading.subscribed:,} of {reading.count:,} "
            f"| {reading.idle_mib:.0f} | {reading.subscribed_mib:.0f} | {reading.kib_each:.1f} "
            f"| {reading.setup_seconds:.1f} |"
        )
    found = {reading.mode: reading for reading in readings} if single else {}
    if "graphql" in found and "plain" in found:
        graphql, plain = found["graphql"], found["plain"]
        rss = graphql.subscribed_mib / plain.subscribed_mib
        print(
            f"\nGraphQL / plain: RSS subscribed {rss:.2f}x, per subscriber "
            f"{graphql.kib_each / plain.kib_each:.2f}x, "
            f"time to subscribe {graphql.setup_seconds / plain.setup_seconds:.2f}x"
        )
    if "protocol" in found and "plain" in found:
        floor, plain = found["protocol"], found["plain"]
        print(
            f"protocol floor / plain: time to subscribe "
            f"{floor.setup_seconds / plain.setup_seconds:.2f}x, server CPU "
            f"{floor.setup_cpu['server'] / plain.setup_cpu['server']:.2f}x"
        )
    for reading in readings:
        if reading.errors:
            print(f"{reading.mode} errors: {reading.errors[:3]}")
        if not reading.layers:
            continue
        total = sum(kib for _, kib, _ in reading.layers)
        blocks = sum(count for _, _, count in reading.layers)
        print(
            f"\n{reading.mode}: Python heap +{total:.1f} KiB and {blocks:.0f} blocks per "
            "subscriber (tracemalloc)\n\n| layer | KiB / subscriber | blocks |\n|---|---:|---:|"
        )
        for name, kib, count in reading.layers:
            if abs(kib) >= 0.05:
                print(f"| {name} | {kib:.2f} | {count:.1f} |")


def rounds_report(rounds: list[list[Reading]]) -> None:
    """The ratios to the plain route within each round, and their medians."""
    ratios: dict[str, list[float]] = defaultdict(list)
    seconds: dict[str, list[float]] = defaultdict(list)
    for readings in rounds:
        found = {reading.mode: reading for reading in readings}
        for reading in readings:
            seconds[reading.mode].append(reading.setup_seconds)
        if "plain" not in found:
            continue
        for mode, reading in found.items():
            if mode != "plain":
                ratios[mode].append(reading.setup_seconds / found["plain"].setup_seconds)
    print(f"\nOver {len(rounds)} rounds (median; each round's figures in order):")
    for mode, values in seconds.items():
        listed = ", ".join(f"{value:.1f}" for value in values)
        print(f"- {mode}: subscribed in {statistics.median(values):.1f} s ({listed})")
    for mode, values in ratios.items():
        listed = ", ".join(f"{value:.2f}" for value in values)
        print(f"- {mode} / plain, time to subscribe: {statistics.median(values):.2f}x ({listed})")


def main(arguments: argparse.Namespace) -> None:
    raise_descriptor_limit(arguments.count + SPARE_DESCRIPTORS)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}; "
        f"{arguments.count} connections per mode, tracemalloc "
        f"{'on' if arguments.tracemalloc else 'off'}",
        flush=True,
    )
    keep = Path(arguments.keep) if arguments.keep else None
    with tempfile.TemporaryDirectory(prefix="stockql-memory-") as name, ExitStack() as stack:
        directory = keep or Path(name)
        directory.mkdir(parents=True, exist_ok=True)
        redis_url, redis = start_redis(stack, directory)
        modes = arguments.modes.split(",")
        rounds = []
        for number in range(arguments.rounds):
            readings = []
            for mode in modes[number % len(modes) :] + modes[: number % len(modes)]:
                run = directory / f"{mode}-{number}"
                reading = measure(mode, arguments, run, redis_url, redis.pid)
                cpu = ", ".join(f"{name} {value:.1f}" for name, value in reading.setup_cpu.items())
                print(
                    f"{mode:<8} {reading.subscribed} subscribed in {reading.setup_seconds:.1f} s: "
                    f"RSS {reading.idle_mib:.0f} -> {reading.subscribed_mib:.0f} MiB "
                    f"({reading.kib_each:.1f} KiB each); CPU s while subscribing: {cpu}",
                    flush=True,
                )
                readings.append(reading)
            rounds.append(readings)
        report([reading for readings in rounds for reading in readings], single=len(rounds) == 1)
        if len(rounds) > 1:
            rounds_report(rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="connections per mode")
    parser.add_argument("--modes", default="graphql,plain,idle,idle-ours", help="comma separated")
    parser.add_argument("--tracemalloc", action="store_true", help="heap growth by layer")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight each")
    parser.add_argument("--setup-timeout", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each mode")
    parser.add_argument("--keep", help="keep logs and snapshots in this directory")
    main(parser.parse_args())
