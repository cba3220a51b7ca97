"""Computations in daemon threads: results and errors come back, and neither a cancelled
caller nor the process's exit waits for them."""

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from app.daemon_threads import in_daemon_thread


async def test_the_result_and_the_thread() -> None:
    def compute() -> tuple[int, bool]:
        return 6 * 7, threading.current_thread().daemon

    assert await in_daemon_thread(compute, name="test") == (42, True)


async def test_an_error_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("no data")

    with pytest.raises(ValueError, match="no data"):
        await in_daemon_thread(fail, name="test")


async def test_a_cancelled_caller_stops_waiting_at_once() -> None:
    release = threading.Event()
    waiting = asyncio.ensure_future(in_daemon_thread(release.wait, name="test"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    async with asyncio.timeout(1):
        await asyncio.wait([waiting])
    assert waiting.cancelled()
    release.set()  # the thread ends later; its result goes nowhere
    await asyncio.sleep(0.05)


def test_the_process_exits_without_waiting_for_the_computation() -> None:
    program = (
        "import asyncio, time\n"
        "from app.daemon_threads import in_daemon_thread\n"
        "async def main():\n"
        "    try:\n"
        "        async with asyncio.timeout(0.2):\n"
        "            await in_daemon_thread(lambda: time.sleep(60), name='training')\n"
        "    except TimeoutError:\n"
        "        pass\n"
        "asyncio.run(main())\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", program], check=True, timeout=30)
    assert time.monotonic() - started < 10  # asyncio.to_thread would wait the whole minute
