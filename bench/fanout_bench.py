"""Fan-out of live prices to many graphql-transport-ws subscribers, against plain websockets.

    .venv/bin/python bench/fanout_bench.py [--levels 1000,5000,10000] [--duration 20]
        [--rate 100] [--client-processes 2] [--redis-url URL] [--py-spy PATH]

One `stockql serve` process (no in-process worker, a temporary SQLite file, Redis events) and
one plain websocket server (bench/_fanout_plain.py: the same event bus, no GraphQL) run side by
side; bench/_fanout_publisher.py appends --rate price events per second through the project's
RedisPriceFeed, the symbols (the first 100 of app.adapters.symbol_directory) taking turns. For
each level, and for each server in turn (the order alternates between levels), client
processes (bench/_fanout_client.py) open that many websockets, connection i subscribing to
symbol i % 100 (`stockPrice(symbol)` for GraphQL), wait until every one is subscribed, then
receive for --duration seconds and --grace seconds more, and close. Measured: the messages
published inside the window that arrived (delivered per second, and the fraction of those
expected: events in the window x subscribers of their symbol), and the latency from the event's
timestamp (set by the publisher just before the append) to its arrival, p50/p99/max; CPU
seconds of every process over the window. The servers' RSS is read before a level's clients
connect, once all are subscribed, and at the end of the window: the last table gives MiB and
KiB per subscriber and the time to subscribe, GraphQL against plain (issue 17 point 4).

Without --redis-url a private redis-server is started on a free port: pub/sub channels are
server-wide whatever the database number, and 100 events per second on `stocks:all` and
`stock:AAPL` would reach the test suites of anyone sharing the machine's Redis. Loopback only;
every process started here is stopped on exit, failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import redis
from latest_price_load import stop, wait_healthy

from app.adapters.events.price_feed import stream_key
from app.adapters.symbol_directory import LISTINGS
from domain.price_codec import decode_price
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PYTHON = Path(sys.executable)
SYMBOLS = tuple(listing.symbol for listing in LISTINGS[:100])
TARGET_SUBSCRIBERS = 10_000
TARGET_P99_MS = 250.0
# Issue 17 point 4: memory and set-up of 10,000 subscribers, delivery kept fast.
TARGET_RSS_MIB = 300
TARGET_SETUP_RATIO = 2.0
TARGET_DELIVERY_P99_MS = 10.0
SETTLE_SECONDS = 2.0
# Descriptors a process needs besides its sockets (Redis, SQLite, pipes, the interpreter).
SPARE_DESCRIPTORS = 200


@dataclass
class Server:
    name: str  # also the client's --mode
    port: int
    process: subprocess.Popen[bytes]


@dataclass
class Result:
    server: str
    level: int
    subscribed: int
    failed: int
    setup_seconds: float
    events: int  # published in the window, all symbols
    expected: int  # events x subscribed connections of their symbol
    delivered: int  # of those, received by a client before the grace ran out
    duration: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_percent: dict[str, float]
    server_rss_mib: float
    idle_rss_mib: float  # the server's RSS before this level's clients connected
    subscribed_rss_mib: float  # once every connection is subscribed, before the window
    load: str
    closed_by_server: int
    ended: int  # subscriptions the server completed (after an error) during the run
    errors: list[str] = field(default_factory=list)

    @property
    def delivered_per_second(self) -> float:
        return self.delivered / self.duration

    @property
    def kib_per_subscriber(self) -> float:
        if not self.subscribed:
            return math.nan
        return (self.subscribed_rss_mib - self.idle_rss_mib) * 1024 / self.subscribed


def raise_descriptor_limit(needed: int) -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every process started here)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {needed} needed: raise it (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    shell = subprocess.run(["sh", "-c", "ulimit -n"], capture_output=True, text=True, check=True)
    print(
        f"RLIMIT_NOFILE soft {soft} -> {hard} (hard {hard}); children see ulimit -n = "
        f"{shell.stdout.strip()}; one process needs up to {needed}"
    )
    return soft, hard


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def read_json_line(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no answer from client {process.pid} within {timeout:g} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"client {process.pid} exited with {process.wait()}")
    answer: dict[str, Any] = json.loads(line)
    return answer


def start_process(
    stack: ExitStack, name: str, command: list[str], directory: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    log = stack.enter_context((directory / f"{name}.log").open("wb"))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
    )
    stack.callback(stop, process)
    return process


def start_redis(stack: ExitStack, directory: Path) -> tuple[str, subprocess.Popen[bytes]]:
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is required (or pass --redis-url)")
    port = free_port()
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--maxclients", "20000", "--dir", str(directory),
    ]  # fmt: skip
    process = start_process(stack, "redis", command, directory, dict(os.environ))
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/14", process


def start_servers(stack: ExitStack, directory: Path, redis_url: str) -> list[Server]:
    env = os.environ | {
        "STOCKQL_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'fanout.db'}",
        "STOCKQL_REDIS_URL": redis_url,
        "STOCKQL_SYMBOLS": ",".join(SYMBOLS),
        "STOCKQL_HOST": "127.0.0.1",
        "STOCKQL_LOG_LEVEL": "warning",
        "STOCKQL_WORKER_IN_PROCESS": "false",
        "STOCKQL_QUOTE_TTL_SECONDS": "3600",
    }
    servers = []
    commands = {
        "graphql": [str(PYTHON.with_name("stockql")), "serve"],
        "plain": [str(PYTHON), str(BENCH / "_fanout_plain.py")],
    }
    for name, command in commands.items():
        port = free_port()
        process = start_process(
            stack, name, [*command, f"--port={port}"], directory, env | {"STOCKQL_PORT": str(port)}
        )
        wait_healthy(name, process, f"http://127.0.0.1:{port}/healthz", directory / f"{name}.log")
        servers.append(Server(name, port, process))
    return servers


def published_in_window(client: redis.Redis, start: float, end: float) -> dict[str, int]:
    """Events per symbol whose timestamp (publish time) falls in [start, end)."""
    counts = {}
    for symbol in SYMBOLS:
        entries = client.xrange(
            stream_key(symbol), min=int((start - 10) * 1000), max=int((end + 10) * 1000)
        )
        times = [decode_price(fields[b"event"]).timestamp.timestamp() for _, fields in entries]
        counts[symbol] = sum(start <= moment < end for moment in times)
    return counts


def measure(
    stack: ExitStack,
    server: Server,
    level: int,
    arguments: argparse.Namespace,
    directory: Path,
    watched: dict[str, int],
    redis_client: redis.Redis,
    profile_to: Path | None = None,
) -> Result:
    share = math.ceil(level / arguments.client_processes)
    idle_rss = rss_mib(server.process.pid)
    clients = []
    for number in range(arguments.client_processes):
        first, count = number * share, min(share, level - number * share)
        out = directory / f"{server.name}-{level}-{number}.npy"
        command = [
            str(PYTHON), str(BENCH / "_fanout_client.py"), f"--port={server.port}",
            f"--mode={server.name}", f"--symbols={','.join(SYMBOLS)}", f"--first={first}",
            f"--count={count}", f"--concurrency={arguments.concurrency}", f"--out={out}",
            f"--setup-timeout={arguments.setup_timeout}",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        stack.callback(stop, process)
        clients.append((process, out))
    started = time.monotonic()
    readies = [read_json_line(process, arguments.setup_timeout + 60) for process, _ in clients]
    setup_seconds = time.monotonic() - started
    subscribed = sum(ready["ready"] for ready in readies)
    errors = [error for ready in readies for error in ready["errors"]]
    time.sleep(SETTLE_SECONDS)
    subscribed_rss = rss_mib(server.process.pid)
    pids = (
        watched
        | {"server": server.process.pid}
        | {f"client{number}": process.pid for number, (process, _) in enumerate(clients)}
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    profiler = None
    if profile_to is not None:
        profiler = profile(arguments.py_spy, server, arguments.duration, profile_to)
    start = time.time()
    time.sleep(arguments.duration)
    end = time.time()
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    server_rss = rss_mib(server.process.pid)
    time.sleep(arguments.grace)
    for process, _ in clients:
        assert process.stdin is not None
        process.stdin.write(b"stop\n")
        process.stdin.flush()
    dones = [read_json_line(process, 120) for process, _ in clients]
    if profiler is not None:
        profiler.wait(timeout=60)
    for process, _ in clients:
        process.wait(timeout=30)
    records = np.concatenate([np.load(out) for _, out in clients])
    counts = published_in_window(redis_client, start, end)
    indexes = np.array([index for ready in readies for index in ready["indexes"]], dtype=int)
    subscribers = np.bincount(indexes % len(SYMBOLS), minlength=len(SYMBOLS))
    expected = sum(counts[symbol] * int(subscribers[i]) for i, symbol in enumerate(SYMBOLS))
    window = records[(records["published"] >= start) & (records["published"] < end)]
    latency = (window["received"] - window["published"]) * 1000
    percentiles = np.percentile(latency, [50, 99]) if len(latency) else [math.nan] * 2
    duration = end - start
    return Result(
        server=server.name,
        level=level,
        subscribed=subscribed,
        failed=level - subscribed,
        setup_seconds=setup_seconds,
        events=sum(counts.values()),
        expected=expected,
        delivered=len(window),
        duration=duration,
        p50_ms=float(percentiles[0]),
        p99_ms=float(percentiles[1]),
        max_ms=float(latency.max()) if len(latency) else math.nan,
        cpu_percent={name: (cpu_after[name] - cpu_before[name]) / duration * 100 for name in pids},
        server_rss_mib=server_rss,
        idle_rss_mib=idle_rss,
        subscribed_rss_mib=subscribed_rss,
        load=load,
        closed_by_server=sum(done["closed_by_server"] for done in dones),
        ended=sum(done["ended"] for done in dones),
        errors=errors + [error for done in dones for error in done["errors"]],
    )


def print_result(result: Result) -> None:
    cpu = " ".join(f"{name} {percent:.0f}%" for name, percent in result.cpu_percent.items())
    share = result.delivered / result.expected * 100 if result.expected else math.nan
    print(
        f"{result.server:<8}{result.level:>6} subscribers ({result.subscribed} subscribed in "
        f"{result.setup_seconds:.1f} s, {result.failed} failed): "
        f"{result.delivered_per_second:8.0f} msg/s delivered ({share:.1f}% of "
        f"{result.expected / result.duration:.0f}/s expected, {result.events} events)  "
        f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  max {result.max_ms:7.1f} ms",
        flush=True,
    )
    print(
        f"          CPU over the window: {cpu}; server RSS {result.idle_rss_mib:.0f} MiB idle, "
        f"{result.subscribed_rss_mib:.0f} MiB subscribed ({result.kib_per_subscriber:.1f} KiB "
        f"each), {result.server_rss_mib:.0f} MiB after the window; "
        f"load {result.load}; connections closed by the server {result.closed_by_server}, "
        f"subscriptions ended {result.ended}",
        flush=True,
    )
    for error in result.errors[:5]:
        print(f"          error: {error}", flush=True)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2g}x" if denominator else "-"


def report(results: list[Result]) -> None:
    by_key = {(result.server, result.level): result for result in results}
    print(
        "\n| subscribers | GraphQL msg/s (delivered) | plain msg/s | GraphQL p50 / p99 ms "
        "| plain p50 / p99 ms | p99 GraphQL/plain | server CPU GraphQL / plain (ratio) |"
    )
    print("|---|---|---|---|---|---|---|")
    for level in sorted({result.level for result in results}):
        graphql, plain = by_key[("graphql", level)], by_key[("plain", level)]

        def share(result: Result) -> str:
            return f"{result.delivered / result.expected * 100:.1f}%" if result.expected else "-"

        cpu, plain_cpu = graphql.cpu_percent["server"], plain.cpu_percent["server"]
        print(
            f"| {level:,} | {graphql.delivered_per_second:,.0f} ({share(graphql)}) "
            f"| {plain.delivered_per_second:,.0f} ({share(plain)}) "
            f"| {graphql.p50_ms:.1f} / {graphql.p99_ms:.1f} "
            f"| {plain.p50_ms:.1f} / {plain.p99_ms:.1f} "
            f"| {ratio(graphql.p99_ms, plain.p99_ms)} "
            f"| {cpu:.0f}% / {plain_cpu:.0f}% ({ratio(cpu, plain_cpu)}) |"
        )
    memory_report(by_key)
    top = by_key.get(("graphql", TARGET_SUBSCRIBERS))
    if top is not None:
        met = top.failed == 0 and top.p99_ms < TARGET_P99_MS
        print(
            f"\ntarget {TARGET_SUBSCRIBERS:,} subscribers with p99 < {TARGET_P99_MS:.0f} ms: "
            f"{'met' if met else 'NOT met'} ({top.subscribed:,} subscribed, "
            f"p99 {top.p99_ms:.1f} ms)"
        )


def memory_report(by_key: dict[tuple[str, int], Result]) -> None:
    """Issue 17 point 4: RSS and time to subscribe, GraphQL against plain, per level."""
    print(
        "\n| subscribers | RSS idle -> subscribed MiB, GraphQL | plain | KiB per subscriber "
        "GraphQL / plain | subscribed in s GraphQL / plain (ratio) |"
    )
    print("|---|---|---|---|---|")
    for level in sorted({level for _, level in by_key}):
        graphql, plain = by_key[("graphql", level)], by_key[("plain", level)]
        print(
            f"| {level:,} | {graphql.idle_rss_mib:.0f} -> {graphql.subscribed_rss_mib:.0f} "
            f"| {plain.idle_rss_mib:.0f} -> {plain.subscribed_rss_mib:.0f} "
            f"| {graphql.kib_per_subscriber:.1f} / {plain.kib_per_subscriber:.1f} "
            f"| {graphql.setup_seconds:.1f} / {plain.setup_seconds:.1f} "
            f"({ratio(graphql.setup_seconds, plain.setup_seconds)}) |"
        )
    top = by_key.get(("graphql", TARGET_SUBSCRIBERS))
    plain_top = by_key.get(("plain", TARGET_SUBSCRIBERS))
    if top is not None and plain_top is not None:
        peak = max(top.subscribed_rss_mib, top.server_rss_mib)
        rss_met = top.failed == 0 and peak <= TARGET_RSS_MIB
        setup = top.setup_seconds / plain_top.setup_seconds
        print(
            f"\nissue 17 point 4 at {TARGET_SUBSCRIBERS:,}: RSS <= {TARGET_RSS_MIB} MiB "
            f"{'met' if rss_met else 'NOT met'} ({top.subscribed_rss_mib:.0f} MiB subscribed, "
            f"{top.server_rss_mib:.0f} MiB after the window); subscribed in <= "
            f"{TARGET_SETUP_RATIO:g}x plain {'met' if setup <= TARGET_SETUP_RATIO else 'NOT met'} "
            f"({setup:.2f}x); p99 < {TARGET_DELIVERY_P99_MS:g} ms "
            f"{'met' if top.p99_ms < TARGET_DELIVERY_P99_MS else 'NOT met'} "
            f"({top.p99_ms:.1f} ms)"
        )


def profile(py_spy: str, server: Server, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the server without pausing it, in collapsed-stack form."""
    command = [
        py_spy, "record", "--pid", str(server.process.pid), "--duration", str(int(seconds)),
        "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(arguments: argparse.Namespace) -> None:
    levels = [int(level) for level in arguments.levels.split(",")]
    per_client = math.ceil(max(levels) / arguments.client_processes)
    raise_descriptor_limit(max(levels, default=0) + SPARE_DESCRIPTORS)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {len(SYMBOLS)} symbols, {arguments.rate:g} "
        f"events/s, {arguments.duration:g} s per run, {arguments.client_processes} client "
        f"processes x up to {per_client} connections",
        flush=True,
    )
    keep = Path(arguments.keep) if arguments.keep else None
    with tempfile.TemporaryDirectory(prefix="stockql-fanout-") as name, ExitStack() as stack:
        directory = keep or Path(name)
        directory.mkdir(parents=True, exist_ok=True)
        watched: dict[str, int] = {}
        if arguments.redis_url:
            redis_url = arguments.redis_url
        else:
            redis_url, redis_process = start_redis(stack, directory)
            watched["redis"] = redis_process.pid
        redis_client = redis.Redis.from_url(redis_url)
        stack.callback(redis_client.close)
        servers = start_servers(stack, directory, redis_url)
        command = [
            str(PYTHON), str(BENCH / "_fanout_publisher.py"), f"--redis-url={redis_url}",
            f"--symbols={','.join(SYMBOLS)}", f"--rate={arguments.rate}",
        ]  # fmt: skip
        publisher = start_process(stack, "publisher", command, directory, dict(os.environ))
        watched["publisher"] = publisher.pid
        results = []
        for number, level in enumerate(levels):
            order = servers if number % 2 == 0 else servers[::-1]
            for server in order:
                profile_to = None
                if arguments.py_spy and level == max(levels):
                    profile_to = directory / f"py-spy-{server.name}-{level}.txt"
                result = measure(
                    stack, server, level, arguments, directory, watched, redis_client, profile_to
                )
                print_result(result)
                if profile_to is not None:
                    print(f"          py-spy samples over the window: {profile_to}", flush=True)
                results.append(result)
            for server in servers:
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        report(results)
        if keep:
            print(f"logs and records kept in {keep}")


def _exit_on_sigterm(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds through ExitStack: every process is stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1000,5000,10000", help="subscribers, comma separated")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per run")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds to wait for late ones")
    parser.add_argument("--rate", type=float, default=100.0, help="price events per second")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight each")
    parser.add_argument(
        "--setup-timeout", type=float, default=180.0, help="seconds to subscribe a level"
    )
    parser.add_argument("--redis-url", help="an existing Redis (default: a private one)")
    parser.add_argument("--py-spy", help="py-spy executable: profile the servers at the top level")
    parser.add_argument("--keep", help="keep logs, records and profiles in this directory")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    main(arguments)
