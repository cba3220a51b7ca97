"""Real `stockql serve` / `stockql worker` processes and a throwaway `redis-server`, on
loopback, for tests across processes. Each is an async context manager that always ends its
process (SIGTERM, then SIGKILL) and adds the process's output to a failing test's error."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.server import CLIENT_LIMITS, free_port
from tests.support.services import missing
from tests.support.waiting import eventually

STOCKQL = Path(sys.executable).with_name("stockql")
JWT_SECRET = "processes-test-secret-of-at-least-thirty-two-bytes"
# Start-up imports the whole app (scikit-learn alone takes 15-50 s of a 2-core machine
# that other test processes keep busy) and may migrate.
START_WITHIN = 90.0
STOP_WITHIN = 10.0
OUTPUT_TAIL = 6000

_numbers = itertools.count(1)


def stockql_env(**values: str) -> dict[str, str]:
    """STOCKQL_* settings for the servers and workers of one test, from lower-case names
    (database_url="...", port="8001", migrate_on_start="true"). Defaults: the same JWT secret
    for all, no migration on start and no jobs in `serve`, the simulator ticking twice a
    second on AAPL and MSFT, cheap password hashing, warnings only."""
    defaults = {
        "env": "test",
        "jwt_secret": JWT_SECRET,
        "migrate_on_start": "false",
        "worker_in_process": "false",
        "simulator_tick_seconds": "0.5",
        "symbols": "AAPL,MSFT",
        "password_time_cost": "1",
        "password_memory_kib": "1024",
        "log_level": "warning",
    }
    return {f"STOCKQL_{name.upper()}": value for name, value in (defaults | values).items()}


def embedded_serve_env(directory: Path, port: int, **values: str) -> dict[str, str]:
    """stockql_env for one `serve` on its own SQLite file in `directory`, migrated at start."""
    return stockql_env(
        database_url=f"sqlite+aiosqlite:///{directory / 'stockql.db'}",
        port=str(port),
        migrate_on_start="true",
        **values,
    )


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


@dataclass
class StockqlProcess:
    """One running `stockql` command; `base_url` and `client` are set for servers only."""

    command: str
    process: asyncio.subprocess.Process
    output_path: Path
    base_url: str = ""
    client: httpx.AsyncClient | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def kill(self) -> None:
        """SIGKILL: the process dies without cleaning up (a crash)."""
        if self.process.returncode is None:
            self.process.kill()

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """POST a GraphQL document to this server; asserts an HTTP 200, returns the body."""
        assert self.client is not None, f"`stockql {self.command}` serves no HTTP"
        headers = {"authorization": f"Bearer {token}"} if token else None
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def running_stockqls(
    commands: Sequence[tuple[str, Mapping[str, str]]],
    *,
    directory: Path,
    executable: Path = STOCKQL,
    cwd: Path | None = None,
) -> AsyncIterator[list[StockqlProcess]]:
    """Start `stockql serve` / `stockql worker` processes together, each with its `env` as
    its only STOCKQL_* settings and its output in `directory`; yield once all are ready. A
    server is ready once /healthz answers on its STOCKQL_PORT, a worker once its runtime is
    open (this needs STOCKQL_LOG_LEVEL=info). A test failing inside the block gets the tail
    of every output as notes. All are stopped on exit. `executable` is this environment's
    `stockql` unless given (another installation's), run in `cwd` (default: this one)."""
    started: list[StockqlProcess] = []
    async with AsyncExitStack() as stack:
        try:
            for command, env in commands:
                running = await _spawn(
                    command, env, directory=directory, executable=executable, cwd=cwd
                )
                started.append(running)
                if command == "serve":
                    running.base_url = f"http://127.0.0.1:{env['STOCKQL_PORT']}"
                    running.client = await stack.enter_async_context(
                        httpx.AsyncClient(
                            base_url=running.base_url, timeout=10.0, limits=CLIENT_LIMITS
                        )
                    )
            try:
                async with asyncio.TaskGroup() as group:
                    for running in started:
                        group.create_task(_wait_until_ready(running))
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None
            yield started
        except Exception as error:
            for running in started:
                error.add_note(_output_note(running))
            raise
        finally:
            await asyncio.gather(*(_stop(running.process) for running in started))


@asynccontextmanager
async def running_stockql(
    command: str,
    env: Mapping[str, str],
    *,
    directory: Path,
    executable: Path = STOCKQL,
    cwd: Path | None = None,
) -> AsyncIterator[StockqlProcess]:
    """One process as `running_stockqls` starts them."""
    async with running_stockqls(
        [(command, env)], directory=directory, executable=executable, cwd=cwd
    ) as (running,):
        yield running


async def run_stockql(
    args: Sequence[str], env: Mapping[str, str], *, directory: Path, within: float
) -> tuple[int, str]:
    """Run a `stockql` command that ends by itself (`train`, `migrate`) with `env` as its only
    STOCKQL_* settings; returns its exit status and output. Killed after `within` seconds
    (AssertionError)."""
    running = await _spawn(
        args[0], env, directory=directory, executable=STOCKQL, cwd=None, args=args[1:]
    )
    try:
        async with asyncio.timeout(within):
            status = await running.process.wait()
    except TimeoutError:
        raise AssertionError(
            f"`stockql {' '.join(args)}` did not finish within {within} s\n" + _output_note(running)
        ) from None
    finally:
        await _stop(running.process)
    return status, running.output()


async def _spawn(
    command: str,
    env: Mapping[str, str],
    *,
    directory: Path,
    executable: Path,
    cwd: Path | None,
    args: Sequence[str] = (),
) -> StockqlProcess:
    # Only this test's STOCKQL_* settings: nothing leaks in from the developer's shell.
    child_env = {
        name: value for name, value in os.environ.items() if not name.startswith("STOCKQL_")
    }
    child_env.update(env, PYTHONUNBUFFERED="1")
    port = env.get("STOCKQL_PORT", "")
    output_path = directory / f"stockql-{command}-{port or next(_numbers)}.log"
    with output_path.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(executable),
            command,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            env=child_env,
            cwd=cwd,
        )
    return StockqlProcess(command, process, output_path)


async def _answers_healthz(running: StockqlProcess) -> bool:
    assert running.client is not None
    try:
        response = await running.client.get("/healthz", timeout=1.0)
    except httpx.TransportError:
        return False
    return response.status_code == 200


async def _runtime_opened(running: StockqlProcess) -> bool:
    return "runtime open" in running.output()


async def _wait_until_ready(running: StockqlProcess) -> None:
    check = _answers_healthz if running.command == "serve" else _runtime_opened

    async def ready() -> bool:
        if running.process.returncode is not None:
            raise AssertionError(
                f"`stockql {running.command}` exited with {running.process.returncode} "
                "during start-up"
            )
        return bool(await check(running))

    try:
        await eventually(ready, within=START_WITHIN, every=0.1)
    except TimeoutError:
        raise AssertionError(
            f"`stockql {running.command}` was not ready within {START_WITHIN} s"
        ) from None


def _output_note(running: StockqlProcess) -> str:
    try:
        text = running.output()
    except OSError as error:
        text = f"(unreadable: {error})"
    return (
        f"--- output of `stockql {running.command}` (pid {running.pid}, "
        f"{running.output_path}), last {OUTPUT_TAIL} characters ---\n{text[-OUTPUT_TAIL:]}"
    )


async def _stop(process: asyncio.subprocess.Process, *, within: float = STOP_WITHIN) -> None:
    """SIGTERM, then SIGKILL if still running after `within` seconds; always reaped."""
    if process.returncode is None:
        process.send_signal(signal.SIGCONT)  # a stopped process would not act on SIGTERM
        process.terminate()
        try:
            async with asyncio.timeout(within):
                await process.wait()
        except TimeoutError:
            process.kill()
    await process.wait()


class ThrowawayRedis:
    """A `redis-server` of one test's own on a spare loopback port, without persistence, to
    stop and start again on the same port (a restart loses every key, as a real one may)."""

    def __init__(self, binary: str, directory: Path) -> None:
        self._binary = binary
        self._directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None
        self._starts = 0

    async def start(self) -> None:
        """Start the server and wait (at most 5 s) until it answers PING."""
        if self._process is not None:
            raise RuntimeError("redis-server is already running")
        self._starts += 1
        log = self._directory / f"redis-{self.port}-{self._starts}.log"
        with log.open("wb") as output:
            self._process = await asyncio.create_subprocess_exec(
                self._binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self._directory)),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        client = aioredis.from_url(self.url, retry=Retry(NoBackoff(), 0))
        try:

            async def answers() -> bool:
                try:
                    return bool(await client.ping())
                except RedisConnectionError:
                    return False

            try:
                await eventually(answers, within=5.0)
            except TimeoutError:
                await self.stop()
                raise AssertionError(
                    f"redis-server did not answer on port {self.port}:\n{log.read_text()}"
                ) from None
        finally:
            await client.aclose()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing is answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after 5 s); nothing if already stopped."""
        process, self._process = self._process, None
        if process is not None:
            await _stop(process, within=5.0)


@asynccontextmanager
async def throwaway_redis(directory: Path) -> AsyncIterator[ThrowawayRedis]:
    """A started ThrowawayRedis, stopped on exit. Skips without `redis-server` (fails when
    STOCKQL_REQUIRE_SERVICES=1)."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed")
    server = ThrowawayRedis(binary, directory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
