"""What the worker does with a stream's trades and bars (a domain.streaming.StreamConsumer).

Each symbol's newest trade becomes its latest price at once: cached as the quote and
published as the PriceUpdated event polling publishes, whose alerts are evaluated on the
same event. A burst of trades of one symbol is published as its newest trade: while one
price of a symbol is being published, newer trades only replace the next one (subscribers
keep only the newest pending price anyway). Every trade is counted into its minute bar
(domain/minute_bars.py); the bars that changed are written every flush as MIN1, with
`{provider}-stream` as their source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from app.metrics import Metrics
from domain.bar_store import FetchRecord
from domain.cancellation import raise_if_cancelled
from domain.history import HistoryService
from domain.market import Interval, Quote
from domain.minute_bars import MinuteBarBook
from domain.price_publishing import PricePublisher
from domain.quotes import QuoteService
from domain.streaming import MinuteBar, StreamProblem, Trade

log = logging.getLogger(__name__)

# Problems worth an operator's attention at once; the others (a drop, a slow client) are
# expected now and then and retried.
_SERIOUS = frozenset({"auth", "symbol_limit", "insufficient_subscription", "connection_limit"})


class MinuteBarSink(Protocol):
    async def upsert_minute_bars(self, bars: Sequence[MinuteBar], *, source: str) -> int: ...

    async def record_fetch(self, record: FetchRecord) -> None: ...


class StreamIngest:
    def __init__(
        self,
        *,
        provider: str,
        publisher: PricePublisher,
        quotes: QuoteService,
        history: HistoryService,
        bars: MinuteBarSink,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.provider = provider
        self.source = f"{provider}-stream"
        self._publisher = publisher
        self._quotes = quotes
        self._history = history
        self._bars = bars
        self._metrics = metrics
        self._clock = clock
        self.book = MinuteBarBook()
        self._pending: dict[str, Trade] = {}
        self._latest: dict[str, Trade] = {}
        self._wake = asyncio.Event()
        self._unsaved: dict[tuple[str, datetime], MinuteBar] = {}
        self._previous_closes: dict[tuple[str, date], float | None] = {}
        self.published = 0

    async def on_connected(self, symbols: frozenset[str], *, reconnected: bool) -> None:
        log.info(
            "%s stream %s, following %d symbols",
            self.provider,
            "reconnected" if reconnected else "connected",
            len(symbols),
        )

    async def on_trades(self, trades: Sequence[Trade]) -> None:
        now = self._clock()
        book, pending, latest = self.book, self._pending, self._latest
        for trade in trades:
            book.add(trade, now=now)
            newest = pending.get(trade.symbol) or latest.get(trade.symbol)
            # A late trade makes its minute's bar right, never the latest price.
            if newest is None or trade.at >= newest.at:
                pending[trade.symbol] = trade
        self._wake.set()
        if self._metrics is not None:
            self._metrics.stream_trades.labels(self.provider).inc(len(trades))

    async def on_bar(self, bar: MinuteBar) -> None:
        self.book.use_provider_bar(bar, now=self._clock())

    async def on_problem(self, problem: StreamProblem) -> None:
        level = logging.ERROR if problem.fatal or problem.code in _SERIOUS else logging.WARNING
        log.log(level, "%s stream problem (%s): %s", self.provider, problem.code, problem)
        if self._metrics is not None:
            self._metrics.stream_problems.labels(self.provider, problem.code).inc()

    async def publish_forever(self) -> None:
        """Publish the newest trade of every symbol that traded, as trades come."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.publish_pending()
            raise_if_cancelled()

    async def publish_pending(self) -> int:
        """Publish the newest pending trade of each symbol now; returns how many."""
        pending, self._pending = self._pending, {}
        await asyncio.gather(*(self._publish(trade) for trade in pending.values()))
        return len(pending)

    async def flush_forever(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.flush()
            raise_if_cancelled()

    async def flush(self) -> int:
        """Write the minute bars that changed since the last flush (and those a failed flush
        left); forget the final ones. Returns the number of bars written. Never raises."""
        for bar in self.book.take_changed():
            self._unsaved[(bar.symbol, bar.start)] = bar
        self.book.finish(self._clock())
        if not self._unsaved:
            return 0
        bars = list(self._unsaved.values())
        now = self._clock()
        try:
            written = await self._bars.upsert_minute_bars(bars, source=self.source)
            for symbol in sorted({bar.symbol for bar in bars}):
                await self._bars.record_fetch(FetchRecord(symbol, Interval.MIN1, now, self.source))
        except Exception as error:  # the database is down: the next flush tries again
            log.warning("minute bars not written (%s); retrying", type(error).__name__)
            return 0
        self._unsaved.clear()
        return written

    async def _publish(self, trade: Trade) -> None:
        self._latest[trade.symbol] = trade
        try:
            quote = await self._quote(trade)
            await self._quotes.remember(quote)
            event = await self._publisher.publish_quote(quote)
        except Exception as error:  # one symbol's failure must not stop the others
            log.warning("publishing %s's trade failed: %s", trade.symbol, type(error).__name__)
            return
        if event is None:
            return
        self.published += 1
        if self._metrics is not None:
            lag = (self._clock() - trade.at).total_seconds()
            self._metrics.stream_publish_lag.labels(self.provider).observe(max(0.0, lag))

    async def _quote(self, trade: Trade) -> Quote:
        previous = await self._previous_close(trade.symbol, trade.at.date())
        change = None if previous is None else trade.price - previous
        return Quote(
            symbol=trade.symbol,
            price=trade.price,
            timestamp=trade.at,
            source=self.source,
            previous_close=previous,
            change=change,
            change_percent=None if change is None or not previous else change / previous * 100,
        )

    async def _previous_close(self, symbol: str, day: date) -> float | None:
        """The close of the newest daily bar before `day` (UTC), looked up once a day."""
        key = (symbol, day)
        if key in self._previous_closes:
            return self._previous_closes[key]
        try:
            series = (await self._history.stored_series(symbol, Interval.DAILY)).series
        except Exception as error:  # prices still go out, without their change; asked again
            log.info("no previous close for %s: %s", symbol, type(error).__name__)
            return None
        close = None
        for timestamp, value in zip(
            reversed(series.timestamps), reversed(series.close), strict=True
        ):
            if timestamp.date() < day:
                close = value
                break
        self._previous_closes[key] = close
        return close
