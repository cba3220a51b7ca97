"""A StreamConsumer that records what a feed hands it, with waits for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from domain.streaming import MinuteBar, StreamProblem, Trade


class RecordingConsumer:
    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.bars: list[MinuteBar] = []
        self.problems: list[StreamProblem] = []
        self.connections: list[tuple[frozenset[str], bool]] = []
        self._changed = asyncio.Condition()

    @property
    def problem_codes(self) -> list[str]:
        return [problem.code for problem in self.problems]

    async def on_connected(self, symbols: frozenset[str], *, reconnected: bool) -> None:
        await self._record(lambda: self.connections.append((symbols, reconnected)))

    async def on_trades(self, trades: Sequence[Trade]) -> None:
        await self._record(lambda: self.trades.extend(trades))

    async def on_bar(self, bar: MinuteBar) -> None:
        await self._record(lambda: self.bars.append(bar))

    async def on_problem(self, problem: StreamProblem) -> None:
        await self._record(lambda: self.problems.append(problem))

    async def wait_for(self, ready: Callable[[], bool], *, seconds: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), seconds)

    async def _record(self, change: Callable[[], None]) -> None:
        async with self._changed:
            change()
            self._changed.notify_all()
