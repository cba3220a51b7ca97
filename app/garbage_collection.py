"""The cyclic garbage collector's thresholds for the long-running commands.

CPython collects its young generation after 700 more container allocations than
deallocations. A server holding thousands of subscriptions (each a task, generators, frames,
strawberry's context) churns through far more than that, and every collection also walks
what survived, so collections come back-to-back while thousands subscribe at once, and full
collections of the whole heap follow each 25% of growth. Measured with
bench/fanout_bench.py at 10,000 subscribers (docs/PERFORMANCE.md): a young threshold of
50,000 took subscribing all of them from 30.6 s to 21.5 s and the delivery p99 from 9.6 ms
to 4.3 ms, at the same memory. Only cycles wait longer to be freed; reference counting
frees everything else at once, as before.
"""

from __future__ import annotations

import gc

DEFAULT_YOUNG_THRESHOLD = 50_000
# How many collections of the younger generation run before an older one is considered.
_MIDDLE_THRESHOLD = 20
_OLD_THRESHOLD = 10


def tune_garbage_collector(young_threshold: int = DEFAULT_YOUNG_THRESHOLD) -> None:
    """Set the collector's thresholds for a server process (see the module docstring)."""
    if young_threshold < 1:
        raise ValueError(f"young_threshold must be at least 1, not {young_threshold}")
    gc.set_threshold(young_threshold, _MIDDLE_THRESHOLD, _OLD_THRESHOLD)
