"""BatchedLookup: lookups arriving while a load runs go together in the next one."""

import asyncio
from collections.abc import Collection

import pytest

from domain.batched_lookups import BatchedLookup


class Loads:
    """A load_many that records each batch and answers once `release` is set."""

    def __init__(self, *, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail = fail

    async def __call__(self, keys: Collection[str]) -> dict[str, int]:
        self.batches.append(sorted(keys))
        await self.release.wait()
        if self.fail:
            raise ConnectionError("database down")
        return {key: len(key) for key in keys if key != "unknown"}


async def test_a_lone_lookup_loads_at_once() -> None:
    loads = Loads()
    loads.release.set()
    lookup = BatchedLookup(loads, missing=lambda: 0)
    assert await lookup.get("AAPL") == 4
    assert loads.batches == [["AAPL"]]


async def test_lookups_asked_during_a_load_go_together_in_the_next_one() -> None:
    loads = Loads()
    lookup = BatchedLookup(loads, missing=lambda: 0)
    first = asyncio.create_task(lookup.get("A"))
    await asyncio.sleep(0)
    later = [asyncio.create_task(lookup.get(key)) for key in ("BB", "CCC", "BB", "unknown")]
    await asyncio.sleep(0)
    assert loads.batches == [["A"]]  # the others wait for the running load
    loads.release.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [2, 3, 2, 0]
    assert loads.batches == [["A"], ["BB", "CCC", "unknown"]]


async def test_a_failed_load_fails_its_batch_only() -> None:
    loads = Loads(fail=True)
    lookup = BatchedLookup(loads, missing=lambda: 0)
    failing = asyncio.create_task(lookup.get("A"))
    await asyncio.sleep(0)
    loads.release.set()
    with pytest.raises(ConnectionError):
        await failing
    loads.fail = False
    assert await lookup.get("BB") == 2


async def test_a_cancelled_caller_leaves_the_others_their_answer() -> None:
    loads = Loads()
    lookup = BatchedLookup(loads, missing=lambda: 0)
    cancelled, kept = (asyncio.create_task(lookup.get("A")) for _ in range(2))
    await asyncio.sleep(0)
    cancelled.cancel()
    loads.release.set()
    assert await kept == 1
    assert cancelled.cancelled()


async def test_a_cancelled_load_cancels_its_waiters_instead_of_leaving_them_hanging() -> None:
    loads = Loads()
    lookup = BatchedLookup(loads, missing=lambda: 0)
    waiting = asyncio.create_task(lookup.get("A"))
    await asyncio.sleep(0)
    loader = lookup._loader
    assert loader is not None
    loader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    loads.release.set()
    assert await lookup.get("BB") == 2  # a new load starts


async def test_a_load_cancelled_while_loading_cancels_its_batch_and_the_next() -> None:
    loads = Loads()
    lookup = BatchedLookup(loads, missing=lambda: 0)
    loading = asyncio.create_task(lookup.get("A"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    queued = asyncio.create_task(lookup.get("BB"))
    await asyncio.sleep(0)
    assert loads.batches == [["A"]]
    assert lookup._loader is not None
    lookup._loader.cancel()
    for task in (loading, queued):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_lookup_right_after_a_load_ended_starts_a_new_one() -> None:
    loads = Loads()
    loads.release.set()
    lookup = BatchedLookup(loads, missing=lambda: 0)
    assert await lookup.get("A") == 1
    # The ended loader's done callback has not run yet: it must not cancel this lookup.
    assert await lookup.get("BB") == 2
    assert loads.batches == [["A"], ["BB"]]
