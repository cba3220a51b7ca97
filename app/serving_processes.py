"""`stockql serve --workers N`: N server processes on one port, each a whole `serve`.

The parent binds the listening sockets and supervises; each child builds its own app from
the same STOCKQL_* environment and serves one socket. With SO_REUSEPORT (Linux, BSD) each
child gets its own socket on the shared port and the kernel spreads new connections evenly
over them; a single socket shared by all would let whichever process wakes first take most
of them. uvicorn's own `--workers` supervisor is not used: it runs plain `uvicorn.Server`s,
without this project's graceful shutdown (GracefulServer).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from types import FrameType

from uvicorn.config import STARTUP_FAILURE

from app.settings import Settings

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long the parent waits for children beyond their own graceful shutdown time.
_STOP_MARGIN_SECONDS = 10.0


class WorkersNeedRedis(ValueError):
    """More than one process without Redis: each would have its own in-memory event bus,
    and subscribers on one process would never see events published on another."""


def worker_count(value: str) -> int:
    """`--workers`: a positive number, or `auto` for the CPUs this process may run on."""
    if value == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else _cpus()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"--workers must be a positive number or 'auto', not {value!r}") from None
    if count < 1:
        raise ValueError(f"--workers must be at least 1, not {count}")
    return count


def _cpus() -> int:
    return os.cpu_count() or 1


def check_workers(settings: Settings, workers: int) -> None:
    if workers > 1 and settings.redis_url is None:
        raise WorkersNeedRedis(
            f"--workers {workers} needs STOCKQL_REDIS_URL: without Redis each process has its "
            "own event bus, and subscribers on one would miss events published on another"
        )


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets on one port (SO_REUSEPORT), or one shared socket where the platform
    has no SO_REUSEPORT. Bound here, in the parent, so a taken port fails at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not hasattr(socket, "SO_REUSEPORT"):
        return [socket.create_server((host, port), family=family, backlog=2048)]
    first = socket.create_server((host, port), family=family, backlog=2048, reuse_port=True)
    bound_port = first.getsockname()[1]  # port 0: the others join the port the first got
    rest = [
        socket.create_server((host, bound_port), family=family, backlog=2048, reuse_port=True)
        for _ in range(count - 1)
    ]
    return [first, *rest]


ChildTarget = Callable[[socket.socket], None]


class Supervisor:
    """Keeps one child per socket running until SIGTERM/SIGINT, then stops them all.

    A child that dies is replaced; one that exits with uvicorn's start-up failure status
    (bad app, settings or database) stops the whole server instead, since a replacement
    would fail the same way.
    """

    def __init__(self, target: ChildTarget, sockets: list[socket.socket], stop_within: float):
        self._target = target
        self._sockets = sockets
        self._stop_within = stop_within + _STOP_MARGIN_SECONDS
        self._context = multiprocessing.get_context("spawn")
        self._children: list[SpawnProcess] = []
        self._stopping = threading.Event()
        self._status = 0

    def run(self, workers: int) -> int:
        """Serve with `workers` children; returns the exit status for the parent."""
        originals = {sig: signal.signal(sig, self._on_stop_signal) for sig in _STOP_SIGNALS}
        try:
            self._children = [self._start(self._socket_for(i)) for i in range(workers)]
            log.info("serving with %d processes: %s", workers, [c.pid for c in self._children])
            while not self._stopping.wait(0.5):
                self._replace_dead_children()
        finally:
            self._stop_children()
            for sig, handler in originals.items():
                signal.signal(sig, handler)
        return self._status

    def _socket_for(self, index: int) -> socket.socket:
        return self._sockets[index % len(self._sockets)]

    def _start(self, sock: socket.socket) -> SpawnProcess:
        child = self._context.Process(target=self._target, args=(sock,), daemon=False)
        child.start()
        return child

    def _on_stop_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping.set()

    def _replace_dead_children(self) -> None:
        for index, child in enumerate(self._children):
            if child.is_alive():
                continue
            if child.exitcode == STARTUP_FAILURE:
                log.error("server process %s failed to start: stopping", child.pid)
                self._status = STARTUP_FAILURE
                self._stopping.set()
                return
            log.warning("server process %s ended with %s: replacing it", child.pid, child.exitcode)
            self._children[index] = self._start(self._socket_for(index))

    def _stop_children(self) -> None:
        for child in self._children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)  # each shuts down gracefully on its own
        for child in self._children:
            child.join(self._stop_within)
            if child.is_alive():
                log.error("server process %s did not stop in time: killing it", child.pid)
                child.kill()
                child.join()
