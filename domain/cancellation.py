"""Honouring a cancellation that an awaited call swallowed.

Python 3.11's `asyncio.wait_for` returns the awaited result instead of raising when the
cancellation arrives just as the awaited work completes (CPython gh-86296, fixed in 3.12);
redis-py calls it for every command sent with a `socket_timeout`, as ours are. A database
driver can likewise raise another error in place of the CancelledError, and a
`gather(return_exceptions=True)` returns it as a result. The task still counts the request
(`Task.cancelling()`), so a background loop calls `raise_if_cancelled()` after each awaited
step: otherwise it would sleep on, and whoever stopped it would wait forever.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task was asked to stop and has not yet."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
