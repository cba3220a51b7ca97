"""`serve --workers`: the count it accepts and the refusal without Redis."""

from __future__ import annotations

import os
import socket

import pytest

from app.serving_processes import (
    WorkersNeedRedis,
    check_workers,
    listening_sockets,
    worker_count,
)
from app.settings import Settings


def test_auto_is_one_process_per_usable_cpu() -> None:
    assert worker_count("auto") == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_a_count_that_is_no_positive_number_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="--workers"):
        worker_count(value)


def test_more_than_one_process_needs_redis() -> None:
    with pytest.raises(WorkersNeedRedis, match="STOCKQL_REDIS_URL"):
        check_workers(Settings(), 2)
    check_workers(Settings(), 1)
    check_workers(Settings(redis_url="redis://127.0.0.1:6379/0"), 2)


def test_the_sockets_share_one_port() -> None:
    sockets = listening_sockets("127.0.0.1", 0, 3)
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(sockets) == 3
        assert len(ports) == 1
        assert all(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_the_setting_takes_a_number_or_auto() -> None:
    assert Settings(serve_workers="auto").serve_workers == "auto"
    with pytest.raises(ValueError, match="serve_workers"):
        Settings(serve_workers="0")
