"""Throughput of cached latestPrice over real HTTP, against a plain endpoint serving the same quote.

    .venv/bin/python bench/latest_price_load.py [--duration 10] [--connections 4] [--rounds 2]

Needs wrk (Debian: apt-get install wrk). Starts three server processes on loopback, each with
its own temporary SQLite file: `stockql serve` (GraphQL) with its response cache on (the
default) and off, and bench/_plain_quote_app.py (the project's QuoteService behind a plain
Starlette route). All run single-process uvicorn with access logs off
(STOCKQL_LOG_LEVEL=warning), no in-process worker jobs, and a quote TTL longer than the run, so
every measured request is a quote cache hit (and, with the response cache, a response cache
hit but one per latestPrice max age). Each round runs wrk for --duration seconds against each
server in turn; every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
QUERY = (
    '{ latestPrice(symbol: "AAPL") { symbol price open high low previousClose change '
    "changePercent volume timestamp source stale } }"
)
START_TIMEOUT = 60.0

# POSTs the body given as the first script argument; counts responses that are not an HTTP 200
# carrying a price, so GraphQL errors (sent with status 200) cannot pass for throughput.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  bad = 0
  if args[1] then
    wrk.method = "POST"
    wrk.body = args[1]
    wrk.headers["Content-Type"] = "application/json"
  end
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"price":', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("bad responses: %d\\n", total))
end
"""


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    body: str | None  # None: GET

    def fetch(self) -> dict[str, object]:
        """One request; the decoded latestPrice, asserting there are no errors."""
        if self.body is None:
            response = httpx.get(self.url, timeout=10)
        else:
            response = httpx.post(
                self.url, content=self.body, headers={"content-type": "application/json"}
            )
        response.raise_for_status()
        payload = response.json()
        assert "errors" not in payload, payload["errors"]
        quote: dict[str, object] = payload["data"]["latestPrice"]
        return quote


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    requests: int
    p50_ms: float
    p99_ms: float


def start_server(
    stack: ExitStack,
    name: str,
    command: list[str],
    directory: Path,
    port: int,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = (
        os.environ
        | (extra_env or {})
        | {
            "STOCKQL_DATABASE_URL": f"sqlite+aiosqlite:///{directory / f'{name}.db'}",
            "STOCKQL_HOST": "127.0.0.1",
            "STOCKQL_PORT": str(port),
            "STOCKQL_LOG_LEVEL": "warning",
            "STOCKQL_WORKER_IN_PROCESS": "false",
            "STOCKQL_QUOTE_TTL_SECONDS": "3600",
        }
    )
    log = stack.enter_context((directory / f"{name}.log").open("wb"))
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(stop, process)
    wait_healthy(name, process, f"http://127.0.0.1:{port}/healthz", directory / f"{name}.log")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_healthy(name: str, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {START_TIMEOUT:g} s")


def run_wrk(target: Target, script: Path, *, duration: int, connections: int) -> LoadResult:
    command = [
        "wrk",
        "--threads=1",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=5s",
        "--latency",
        f"--script={script}",
        target.url,
    ]
    if target.body is not None:
        command += ["--", target.body]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=True
    )
    output = completed.stdout
    failures = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith(("Socket errors", "Non-2xx"))
    ]
    bad = int(_find(r"bad responses: (\d+)", output))
    if failures or bad:
        raise RuntimeError(f"{target.name}: {failures} bad responses: {bad}\n{output}")
    return LoadResult(
        requests_per_second=float(_find(r"Requests/sec:\s+([\d.]+)", output)),
        requests=int(_find(r"(\d+) requests in", output)),
        p50_ms=_latency_ms("50%", output),
        p99_ms=_latency_ms("99%", output),
    )


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in wrk output:\n{text}")
    return match.group(1)


def _latency_ms(percentile: str, text: str) -> float:
    """A line of wrk's --latency distribution, e.g. "99%    3.21ms", in milliseconds."""
    match = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s|m)\b", text)
    if match is None:
        raise RuntimeError(f"no {percentile} latency in wrk output:\n{text}")
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[match.group(2)]


def check_same_quote(graphql: Target, plain: Target) -> None:
    left, right = graphql.fetch(), plain.fetch()
    assert left.keys() == right.keys(), (left, right)
    # Two processes, two simulator clocks: the price may differ, the quote's identity not.
    assert (left["symbol"], left["source"]) == (right["symbol"], right["source"]), (left, right)


def main(duration: int, connections: int, rounds: int) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="stockql-load-") as name, ExitStack() as stack:
        directory = Path(name)
        body = json.dumps({"query": QUERY})
        targets = []
        for target_name, response_cache in (("graphql", "true"), ("uncached", "false")):
            port = free_port()
            stockql = [str(PYTHON.with_name("stockql")), "serve"]
            extra = {"STOCKQL_RESPONSE_CACHE": response_cache}
            start_server(stack, target_name, stockql, directory, port, extra_env=extra)
            targets.append(Target(target_name, f"http://127.0.0.1:{port}/graphql", body))
        plain_port = free_port()
        plain_app = str(ROOT / "bench" / "_plain_quote_app.py")
        start_server(
            stack, "plain", [str(PYTHON), plain_app, f"--port={plain_port}"], directory, plain_port
        )
        plain = Target("plain", f"http://127.0.0.1:{plain_port}/quote?symbol=AAPL", None)
        targets.append(plain)
        for target in targets[:-1]:
            check_same_quote(target, plain)
        script = directory / "quote.lua"
        script.write_text(WRK_SCRIPT)
        for target in targets:  # warm caches, code paths and connections
            run_wrk(target, script, duration=2, connections=connections)
        results: dict[str, list[LoadResult]] = {target.name: [] for target in targets}
        for round_number in range(1, rounds + 1):
            for target in targets:
                result = run_wrk(target, script, duration=duration, connections=connections)
                results[target.name].append(result)
                rate = result.requests_per_second
                print(
                    f"round {round_number} {target.name:<9}{rate:>10.0f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                    f"  ({result.requests} requests)"
                )
        for target in targets[:-1]:
            check_same_quote(target, plain)
    report(results, duration, connections)


def report(results: dict[str, list[LoadResult]], duration: int, connections: int) -> None:
    mean = {
        name: statistics.mean(result.requests_per_second for result in runs)
        for name, runs in results.items()
    }
    print(
        f"\ncached latestPrice, wrk 1 thread x {connections} connections, {duration} s per run, "
        f"{len(results['plain'])} runs each (mean)"
    )
    for name, rate in mean.items():
        print(f"  {name:<9}{rate:>8.0f} req/s")
    print("  (graphql: response cache on, the default; uncached: STOCKQL_RESPONSE_CACHE=false)")
    print(f"  graphql/plain throughput {mean['graphql'] / mean['plain']:.2f}")
    print(f"  uncached/plain throughput {mean['uncached'] / mean['plain']:.2f}")
    print(f"  response cache speed-up {mean['graphql'] / mean['uncached']:.2f}x")


def _exit_on_sigterm(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds through ExitStack: the servers are stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per server")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    main(arguments.duration, arguments.connections, arguments.rounds)
