"""For tests of the streaming feeds: a consumer that records what a feed hands it, quick
feed options, and reading a metric sample."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from app.adapters.streams._websocket_feed import Backoff, FeedOptions
from app.metrics import Metrics
from domain.streaming import MinuteBar, StreamProblem, Trade

QUICK_BACKOFF = Backoff(first_seconds=0.02, max_seconds=0.1)


def quick_options(max_symbols: int | None = 3) -> FeedOptions:
    """Reconnects within a tenth of a second; `max_symbols` of our own."""
    return FeedOptions(max_symbols=max_symbols, auth_timeout_seconds=2.0, backoff=QUICK_BACKOFF)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample of `metrics` (counters end in `_total`); 0.0 when there is none."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


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
