"""A private `redis-server` for each pytest-xdist worker.

The tests share one Redis logical database (see services.redis_database) and pub/sub
channels, which no database number separates: two workers on the same Redis would see each
other's keys and events. Each worker therefore gets a server of its own on a spare port, and
services.redis_port() points its tests at it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.server import free_port

PORT_VARIABLE = "STOCKQL_TEST_REDIS_PORT"
# At most this many workers: each process test starts servers of ~200 MiB of its own.
MAX_WORKERS = 4


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


@dataclass(frozen=True)
class WorkerRedis:
    server: subprocess.Popen[bytes]
    directory: Path


def start_worker_redis() -> WorkerRedis:
    """Start a redis-server without persistence, wait until it answers (at most 10 s), and
    point this process's tests at it."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("pytest-xdist workers need redis-server on PATH")
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="stockql-test-redis-"))
    with (directory / f"redis-{port}.log").open("wb") as log:
        server = subprocess.Popen(
            [
                *(binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
    finally:
        client.close()
    os.environ[PORT_VARIABLE] = str(port)
    return WorkerRedis(server, directory)


def stop_worker_redis(redis_server: WorkerRedis) -> None:
    server = redis_server.server
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    shutil.rmtree(redis_server.directory, ignore_errors=True)


def parallel_workers(shared_redis_answers: bool) -> int:
    """How many workers `-n auto` starts: one per CPU (at most MAX_WORKERS), or one when the
    workers could not each have a Redis of their own while a shared one answers."""
    if shared_redis_answers and redis_server_binary() is None:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
