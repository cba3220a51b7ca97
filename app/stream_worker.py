"""The streaming provider in the worker (STOCKQL_STREAM_PROVIDER): only the leader connects,
since both providers allow one connection per key; a worker that loses the lead closes it.

The leader follows the tracked symbols (domain.tracked_symbols: the configured ones, then
those with live subscribers), read again every `stream_follow_seconds` and changed on the
open connection. Past the feed's symbol limit the symbols beyond it are refused with an
error in the logs and the `symbol_limit` problem counted (the API refuses new live symbols
before that: see app/runtime.py). A fatal problem (a refused key) stops the connection;
it is tried again `stream_restart_seconds` later (and reported again while still refused),
never in a tight loop and never crashing the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import aiohttp

from app.adapters.streams._websocket_feed import Backoff, FeedOptions
from app.adapters.streams.alpaca import AlpacaFeed
from app.adapters.streams.finnhub import FinnhubFeed
from app.metrics import Metrics
from app.runtime import Runtime
from app.settings import Settings
from app.stream_ingest import StreamIngest
from domain.cancellation import raise_if_cancelled
from domain.price_publishing import PricePublisher
from domain.streaming import StreamFeed, StreamProblem
from domain.tracked_symbols import TrackedSymbols

log = logging.getLogger(__name__)

ALPACA_STREAM_URL = "wss://stream.data.alpaca.markets/v2/{feed}"
# How often a standby worker looks whether it leads now.
LEADER_CHECK_SECONDS = 1.0


def stream_feed(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics | None
) -> StreamFeed:
    """The feed STOCKQL_STREAM_PROVIDER names; ValueError when its keys are missing."""
    options = FeedOptions(
        max_symbols=settings.stream_max_symbols,
        auth_timeout_seconds=settings.stream_auth_timeout_seconds,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        backoff=Backoff(
            first_seconds=settings.stream_reconnect_first_seconds,
            max_seconds=settings.stream_reconnect_max_seconds,
        ),
    )
    if settings.stream_provider == "alpaca":
        if settings.alpaca_key_id is None or settings.alpaca_secret_key is None:
            raise ValueError(
                "STOCKQL_STREAM_PROVIDER=alpaca needs STOCKQL_ALPACA_KEY_ID and "
                "STOCKQL_ALPACA_SECRET_KEY"
            )
        return AlpacaFeed(
            session=session,
            key_id=settings.alpaca_key_id.get_secret_value(),
            secret_key=settings.alpaca_secret_key.get_secret_value(),
            url=settings.alpaca_stream_url or ALPACA_STREAM_URL.format(feed=settings.alpaca_feed),
            options=options,
            metrics=metrics,
        )
    if settings.finnhub_api_key is None:
        raise ValueError("STOCKQL_STREAM_PROVIDER=finnhub needs STOCKQL_FINNHUB_API_KEY")
    return FinnhubFeed(
        session=session,
        api_key=settings.finnhub_api_key.get_secret_value(),
        url=settings.finnhub_stream_url,
        options=options,
        metrics=metrics,
    )


def within_limit(
    symbols: Sequence[str], limit: int | None
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The symbols to follow (the first `limit`, configured ones first) and those refused."""
    if limit is None or len(symbols) <= limit:
        return frozenset(symbols), ()
    return frozenset(symbols[:limit]), tuple(symbols[limit:])


class StreamSupervisor:
    """Runs the feed, the ingest's loops and the following of tracked symbols while
    `is_leader()`; stops them when it turns false."""

    def __init__(
        self,
        *,
        feed: StreamFeed,
        ingest: StreamIngest,
        tracked: TrackedSymbols,
        is_leader: Callable[[], bool],
        settings: Settings,
    ) -> None:
        self._feed = feed
        self._ingest = ingest
        self._tracked = tracked
        self._is_leader = is_leader
        self._settings = settings
        self._refused: tuple[str, ...] = ()

    async def run(self) -> None:
        leading: asyncio.Task[None] | None = None
        try:
            while True:
                if leading is not None and leading.done():
                    # Not meant to happen (each loop catches its failures): start again.
                    log.error("the %s stream ended: %r", self._feed.name, leading.exception())
                    leading = None
                if self._is_leader() and leading is None:
                    log.info("this worker leads: starting the %s stream", self._feed.name)
                    leading = asyncio.create_task(self._lead(), name="stockql-stream")
                elif not self._is_leader() and leading is not None:
                    log.warning("leadership lost: closing the %s stream", self._feed.name)
                    await _cancelled(leading)
                    leading = None
                raise_if_cancelled()
                await asyncio.sleep(LEADER_CHECK_SECONDS)
        finally:
            if leading is not None:
                await _cancelled(leading)

    async def follow_tracked(self) -> None:
        """Follow the tracked symbols now (within the feed's limit). Never raises, but for
        a cancellation (even one a Redis call swallowed)."""
        try:
            tracked = await self._tracked.current()
            followed, refused = within_limit(tracked, self._feed.max_symbols)
            if refused and refused != self._refused:
                await self._ingest.on_problem(
                    StreamProblem(
                        f"{self._feed.name} follows at most {self._feed.max_symbols} symbols: "
                        f"{', '.join(refused)} not streamed",
                        code="symbol_limit",
                    )
                )
            self._refused = refused
            await self._feed.follow(followed)
        except Exception:  # a bug here must not end the stream
            log.exception("following the tracked symbols failed")
        raise_if_cancelled()

    async def _lead(self) -> None:
        settings = self._settings
        try:
            async with asyncio.TaskGroup() as tasks:
                await self.follow_tracked()
                tasks.create_task(self._ingest.publish_forever())
                tasks.create_task(self._ingest.flush_forever(settings.stream_flush_seconds))
                tasks.create_task(self._follow_forever(settings.stream_follow_seconds))
                tasks.create_task(self._connect_forever(settings.stream_restart_seconds))
        finally:
            await self._ingest.flush()  # what was counted since the last flush

    async def _follow_forever(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.follow_tracked()

    async def _connect_forever(self, restart_seconds: float) -> None:
        while True:
            try:
                await self._feed.run(self._ingest)
            except Exception:  # a bug must not end the stream for good
                log.exception("the %s stream failed", self._feed.name)
            raise_if_cancelled()
            log.error(
                "the %s stream stopped; trying again in %.0f s", self._feed.name, restart_seconds
            )
            await asyncio.sleep(restart_seconds)


async def _cancelled(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end. A cancellation of the caller itself, arriving
    meanwhile, is passed on rather than taken for the task's."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


@asynccontextmanager
async def streaming(runtime: Runtime, *, is_leader: Callable[[], bool]) -> AsyncIterator[None]:
    """The configured stream in the background while the block runs (nothing without one)."""
    settings = runtime.settings
    if settings.stream_provider is None:
        yield
        return
    services = runtime.services
    async with aiohttp.ClientSession() as session:
        feed = stream_feed(settings, session, runtime.metrics)
        ingest = StreamIngest(
            provider=feed.name,
            publisher=PricePublisher(
                quotes=services.quotes, feed=services.prices, reactions=runtime.reactions
            ),
            quotes=services.quotes,
            history=services.history,
            bars=runtime.bar_store,
            metrics=runtime.metrics,
        )
        supervisor = StreamSupervisor(
            feed=feed,
            ingest=ingest,
            tracked=services.tracked,
            is_leader=is_leader,
            settings=settings,
        )
        task = asyncio.create_task(supervisor.run(), name="stockql-stream-supervisor")
        try:
            yield
        finally:
            await _cancelled(task)
