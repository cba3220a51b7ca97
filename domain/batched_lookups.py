"""Lookups by key that arrive together answered by one call, with no waiting added.

The worker publishes the newest price of every symbol that traded at once (app/stream_ingest.py
gathers them), and each price looks up the symbol's active alerts: one database query per price
was ~70% of the stream path's CPU at 20,000 trades/s. Here the first lookup starts its load at
once; lookups that arrive while a load is running wait for it to end and then go together in
the next one. Under load the batches grow by themselves, and a lone lookup is never delayed;
every answer is read after it was asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

_Key = TypeVar("_Key", bound=Hashable)
_Value = TypeVar("_Value")


class BatchedLookup(Generic[_Key, _Value]):
    """`get(key)` through `load_many(keys)`, which answers a mapping (a key it leaves out
    gets `missing()`). A failed load fails the lookups of its batch only."""

    def __init__(
        self,
        load_many: Callable[[Collection[_Key]], Awaitable[Mapping[_Key, _Value]]],
        *,
        missing: Callable[[], _Value],
    ) -> None:
        self._load_many = load_many
        self._missing = missing
        self._waiting: dict[_Key, list[asyncio.Future[_Value]]] = {}
        self._loading: dict[_Key, list[asyncio.Future[_Value]]] = {}
        self._loader: asyncio.Task[None] | None = None

    async def get(self, key: _Key) -> _Value:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Value] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._loader is None:
            self._loader = loop.create_task(self._load_while_asked())
            self._loader.add_done_callback(self._loader_ended)
        return await future

    async def _load_while_asked(self) -> None:
        try:
            while self._waiting:
                self._loading, self._waiting = self._waiting, {}
                try:
                    values = await self._load_many(list(self._loading))
                except Exception as error:
                    for future in _unsettled(self._loading.values()):
                        future.set_exception(error)
                    continue
                for key, futures in self._loading.items():
                    value = values[key] if key in values else self._missing()
                    for future in _unsettled([futures]):
                        future.set_result(value)
                self._loading = {}
        finally:
            self._stop_loading()

    def _loader_ended(self, loader: asyncio.Task[None]) -> None:
        if self._loader is loader:  # cancelled before it ever ran
            self._stop_loading()

    def _stop_loading(self) -> None:
        """Once nothing is left to load, or when cancelled (the loop is closing): nobody is
        left waiting forever."""
        self._loader = None
        for future in _unsettled([*self._loading.values(), *self._waiting.values()]):
            future.cancel()
        self._loading, self._waiting = {}, {}


def _unsettled(
    groups: Iterable[list[asyncio.Future[_Value]]],
) -> Iterator[asyncio.Future[_Value]]:
    for futures in groups:
        for future in futures:
            if not future.done():  # its caller may have been cancelled
                yield future
