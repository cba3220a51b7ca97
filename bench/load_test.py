"""A mixed load of queries, mutations and 500 open subscriptions on one `stockql serve` process.

    .venv/bin/python bench/load_test.py [--duration 60] [--warmup 10] [--users 24]
        [--subscribers 500] [--think 0] [--server-workers 1] [--setting NAME=VALUE ...]
        [--json PATH]

Starts, on loopback, a PostgreSQL database made for the run (dropped after), a throwaway
redis-server on a spare port, one `stockql serve` (migrates on start, trusts X-Forwarded-For
so every virtual user has its own client address) and one `stockql worker` (the simulator
ticks every second on the five default symbols; alerts are evaluated on every tick). Then two
client processes: bench/_load_users.py registers --users virtual users, and
bench/_load_subscribers.py opens --subscribers graphql-transport-ws connections (stockPrice
over the symbols; every tenth one userNotifications with a user's token) held open through the
run. Once every subscriber is subscribed the users send the mix of bench/_load_mix.py for
--duration seconds, one request after the other each.

Reported: requests per second and p50/p99 latency per operation, HTTP 5xx, GraphQL errors by
extensions.code split into expected and unexpected (bench/_load_report.py), subscription
messages received and subscribers lost, server RSS at start (before any request), after
--warmup seconds of load and at the end, and CPU per process. Exit code 1 when the run failed:
any 5xx or unexpected answer, any subscriber lost, or RSS growing by RSS_GROWTH_BOUND_PERCENT
or more after warm-up. Every process started here is stopped on exit, failure, Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from _load_mix import SYMBOLS
from _load_report import failures, judge_operations, print_summary
from fanout_bench import cpu_seconds, raise_descriptor_limit

from tests.support import processes
from tests.support.processes import (
    StockqlProcess,
    ThrowawayRedis,
    rss_kib,
    running_stockql,
    stockql_env,
)
from tests.support.server import free_port
from tests.support.services import postgres_database

BENCH = Path(__file__).resolve().parent
PYTHON = Path(sys.executable)
RSS_GROWTH_BOUND_PERCENT = 25.0
# Descriptors the server needs besides the subscribers' sockets.
SPARE_DESCRIPTORS = 300
ANSWER_WITHIN = 180.0
# A client's answer is one JSON line with every latency it measured: megabytes in a long
# run, past asyncio's 64 KiB default for a line.
ANSWER_LIMIT = 256 * 1024 * 1024
# Start-up imports scikit-learn and the whole app: on a busy 2-core machine that alone can
# take longer than the 45 s the tests allow.
processes.START_WITHIN = 240.0


class Client:
    """A client process talking one JSON line each way on stdin/stdout."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    async def tell(self, message: dict[str, Any] | None = None) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(orjson.dumps(message or {}) + b"\n")
        await self.process.stdin.drain()

    async def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), ANSWER_WITHIN)
        if not line:
            raise RuntimeError(f"{self.name} exited with {await self.process.wait()}")
        answer: dict[str, Any] = orjson.loads(line)
        return answer


@asynccontextmanager
async def client_process(name: str, arguments: list[str], directory: Path) -> AsyncIterator[Client]:
    with (directory / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(PYTHON), str(BENCH / f"_load_{name}.py"), *arguments,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
            limit=ANSWER_LIMIT,
        )  # fmt: skip
    try:
        yield Client(name, process)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def with_descendants(pid: int) -> list[int]:
    """`pid` and every process under it (`serve --workers N`'s children)."""
    pids = [pid]
    for each in pids:
        try:
            children = Path(f"/proc/{each}/task/{each}/children").read_text().split()
        except OSError:  # ended meanwhile
            continue
        pids.extend(int(child) for child in children)
    return pids


def tree_rss_mib(pid: int) -> float:
    total = 0
    for each in with_descendants(pid):
        try:
            total += rss_kib(each)
        except (OSError, AssertionError):  # ended meanwhile
            continue
    return total / 1024


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(each) for each in with_descendants(pid))


class Sampler:
    """Server RSS every second (all its processes), and CPU seconds of every process (with
    its children) at the start and the end."""

    def __init__(self, server_pid: int, pids: dict[str, int]) -> None:
        self.server_pid = server_pid
        self.pids = pids
        self.rss_mib: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self.started = time.monotonic()
        self.cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}

    async def run(self) -> None:
        while True:
            self.rss_mib.append((time.monotonic() - self.started, tree_rss_mib(self.server_pid)))
            await asyncio.sleep(1.0)

    def cpu_percent(self, seconds: float) -> dict[str, float]:
        return {
            name: (tree_cpu_seconds(pid) - self.cpu_before[name]) / seconds * 100
            for name, pid in self.pids.items()
        }

    def rss_at(self, moment: float) -> float:
        return min(self.rss_mib, key=lambda sample: abs(sample[0] - moment))[1]


async def start_services(
    stack: AsyncExitStack, directory: Path, server_workers: int, settings: dict[str, str]
) -> tuple[StockqlProcess, StockqlProcess, ThrowawayRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is required")
    database_url = await stack.enter_async_context(postgres_database())
    redis = ThrowawayRedis(binary, directory)
    await redis.start()
    stack.push_async_callback(redis.stop)
    env = stockql_env(
        database_url=database_url,
        redis_url=redis.url,
        port=str(free_port()),
        symbols=",".join(SYMBOLS),
        simulator_tick_seconds="1",
        migrate_on_start="true",
        trust_forwarded_for="true",
        **settings,
    )
    server_env = env | {"STOCKQL_SERVE_WORKERS": str(server_workers)}
    server = await stack.enter_async_context(
        running_stockql("serve", server_env, directory=directory)
    )
    worker_env = env | {"STOCKQL_LOG_LEVEL": "info", "STOCKQL_MIGRATE_ON_START": "false"}
    worker = await stack.enter_async_context(
        running_stockql("worker", worker_env, directory=directory)
    )
    return server, worker, redis


async def run(arguments: argparse.Namespace, directory: Path) -> dict[str, Any]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    async with AsyncExitStack() as stack:
        server, worker, redis = await start_services(
            stack, directory, arguments.server_workers, dict(arguments.setting)
        )
        rss_start = tree_rss_mib(server.pid)
        users = await stack.enter_async_context(
            client_process(
                "users",
                [
                    f"--base-url={server.base_url}", f"--users={arguments.users}",
                    f"--think={arguments.think}", f"--run-id={os.getpid()}",
                ],
                directory,
            )
        )  # fmt: skip
        registered = (await users.answer())["users"]
        subscribers = await stack.enter_async_context(
            client_process(
                "subscribers",
                [f"--base-url={server.base_url}", f"--count={arguments.subscribers}"],
                directory,
            )
        )
        await subscribers.tell({"tokens": [user["token"] for user in registered]})
        ready = await subscribers.answer()
        print(f"subscribed: {ready}", flush=True)
        load_before = os.getloadavg()
        pids = {
            "server": server.pid, "worker": worker.pid, "redis": _redis_pid(redis),
            "users": users.pid, "subscribers": subscribers.pid,
        }  # fmt: skip
        sampler = Sampler(server.pid, pids)
        sampling = asyncio.create_task(sampler.run())
        await users.tell()
        await asyncio.sleep(arguments.duration)
        await users.tell()
        duration = time.monotonic() - sampler.started
        cpu = sampler.cpu_percent(duration)
        rss_end = tree_rss_mib(server.pid)
        sampling.cancel()
        load_after = os.getloadavg()
        operations = (await users.answer())["operations"]
        await subscribers.tell()
        received = await subscribers.answer()
        for process in (server, worker):
            if process.process.returncode is not None:
                raise RuntimeError(f"stockql {process.command} exited during the run")
    after_warmup = sampler.rss_at(arguments.warmup)
    return {
        "started_at": started_at,
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "duration_s": duration,
        "users": arguments.users,
        "server_workers": arguments.server_workers,
        "settings": dict(arguments.setting),
        "think_s": arguments.think,
        "load_before": " ".join(f"{value:.2f}" for value in load_before),
        "load_after": " ".join(f"{value:.2f}" for value in load_after),
        "operations": judge_operations(operations, duration),
        "subscriptions": {
            "opened": ready["ready"],
            "failed": ready["failed"],
            "kinds": ready["kinds"],
            "received": received["received"],
            "lost": received["lost"],
            "codes": received["codes"],
            "errors": ready["errors"] + received["errors"],
        },
        "server_rss_mib": {
            "start": rss_start,
            "after_warmup": after_warmup,
            "warmup_s": arguments.warmup,
            "end": rss_end,
            "max": max(mib for _, mib in sampler.rss_mib),
            "growth_after_warmup_percent": (rss_end - after_warmup) / after_warmup * 100,
            "bound_percent": RSS_GROWTH_BOUND_PERCENT,
            "samples": [[round(at, 1), round(mib, 1)] for at, mib in sampler.rss_mib],
        },
        "cpu_percent": cpu,
    }


def _redis_pid(redis: ThrowawayRedis) -> int:
    process = redis._process  # the bench watches the CPU of the server it started
    assert process is not None
    return process.pid


def main(arguments: argparse.Namespace) -> int:
    raise_descriptor_limit(arguments.subscribers + SPARE_DESCRIPTORS)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs; "
        f"{arguments.duration:g} s, {arguments.users} virtual users, "
        f"{arguments.subscribers} subscribers",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="stockql-load-") as name:
        directory = Path(arguments.keep) if arguments.keep else Path(name)
        directory.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(run(arguments, directory))
    report["failures"] = failures(report)
    print_summary(report)
    if arguments.json:
        Path(arguments.json).write_bytes(
            orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        )
    return 1 if report["failures"] else 0


def _exit_on_sigterm(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds through the exit stacks: every process is stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before the RSS base")
    parser.add_argument("--users", type=int, default=24, help="virtual users sending requests")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument(
        "--server-workers", type=int, default=1, help="stockql serve processes (--workers)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)),
        metavar="NAME=VALUE",
        help="a STOCKQL_ setting for the server and worker, lower case without the prefix "
        "(user_cache_seconds=0); repeatable",
    )
    parser.add_argument("--think", type=float, default=0.0, help="seconds between requests")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--keep", help="keep the processes' logs in this directory")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main(arguments))
