"""Run a server under tracemalloc, dumping a snapshot on SIGUSR1: for bench/subscriber_memory.py.

    STOCKQL_TRACE_TO=/tmp/x .venv/bin/python bench/_traced_server.py stockql serve --port 8000
    STOCKQL_TRACE_TO=/tmp/x .venv/bin/python bench/_traced_server.py bench/_fanout_plain.py ...

The first argument is `stockql` (the CLI) or a script path; the rest are its arguments.
Tracing starts at the first SIGUSR1, not at start: traced, importing app.main takes a minute
instead of three seconds, and only what is allocated after the server is up matters here. Each
SIGUSR1 writes `{STOCKQL_TRACE_TO}/snapshot-{n}.tracemalloc` and then `...-{n}.done` (the
bench waits for that file, so it never reads a snapshot half written).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

FRAMES = 12
_taken = 0


def _dump(_signal: int, _frame: FrameType | None) -> None:
    global _taken
    directory = Path(os.environ["STOCKQL_TRACE_TO"])
    if not tracemalloc.is_tracing():
        tracemalloc.start(FRAMES)
    snapshot = tracemalloc.take_snapshot()
    path = directory / f"snapshot-{_taken}.tracemalloc"
    snapshot.dump(str(path))
    path.with_suffix(".done").touch()
    _taken += 1


if __name__ == "__main__":
    target, *arguments = sys.argv[1:]
    signal.signal(signal.SIGUSR1, _dump)
    if target == "stockql":
        from app.cli import main

        sys.argv = ["stockql", *arguments]
        main()
    else:
        sys.argv = [target, *arguments]
        runpy.run_path(target, run_name="__main__")
