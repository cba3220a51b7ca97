"""Long computations off the event loop that do not hold up the process's exit.

`asyncio.to_thread` runs on the loop's default executor, which `asyncio.run` joins on the
way out: a worker told to stop in the middle of retraining the model (minutes of
scikit-learn) kept running until the training ended, past any orchestrator's grace period.
A daemon thread is abandoned at exit instead, which suits work that only computes: the
result is stored by the awaiting coroutine, so an abandoned computation leaves nothing
half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

_Result = TypeVar("_Result")


async def in_daemon_thread(function: Callable[[], _Result], *, name: str) -> _Result:
    """`function()` in a daemon thread of its own. Cancelling the caller stops waiting for it
    (the thread runs on, and is abandoned if the process exits first)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[_Result] = loop.create_future()

    def run() -> None:
        report: Callable[[], None]
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting coroutine
            report = functools.partial(_set_exception, done, error)
        else:
            report = functools.partial(_set_result, done, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(report)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await done


def _set_result(done: asyncio.Future[_Result], result: _Result) -> None:
    if not done.done():  # not when the caller was cancelled
        done.set_result(result)


def _set_exception(done: asyncio.Future[_Result], error: BaseException) -> None:
    if not done.done():
        done.set_exception(error)
