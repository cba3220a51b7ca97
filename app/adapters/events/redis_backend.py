"""A broadcaster backend on Redis pub/sub that survives Redis restarts.

broadcaster 0.3.1's RedisBackend is replaced because with redis-py 8 it loses the first
subscription's messages (it reports ready before Redis confirmed the SUBSCRIBE) and never
reconnects after the connection drops (encode/broadcaster#144: subscribers hang silently).

Here one pub/sub connection per backend (per process) is read by one task. `subscribe`
returns once Redis confirmed the SUBSCRIBE, so anything published afterwards arrives. When
the connection is lost (Redis restart, CLIENT KILL, network) the task reconnects with capped,
jittered exponential backoff and subscribes again to every channel still in use. A PING on an
idle connection detects a peer that vanished without closing it. Publishing uses a separate,
ordinary client and raises on failure: the caller decides what a lost message means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from broadcaster import Event
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.events.backend import EventBackend, message_event

log = logging.getLogger(__name__)

# Errors that mean "the connection is gone", as opposed to a wrong command.
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)

DEFAULT_CLIENT_NAME = "stockql-events"
DEFAULT_MAX_QUEUED = 1024
# Publishing connections per process, and how long a publish waits for one of them.
PUBLISH_CONNECTIONS = 32
PUBLISH_POOL_TIMEOUT_SECONDS = 10.0


@dataclass(eq=False)
class _Session:
    """One pub/sub connection and how many SUBSCRIBEs per channel were sent and confirmed on it."""

    connection: AbstractConnection
    sent: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)


@dataclass(eq=False)
class _Waiter:
    """A subscribe() waiting for Redis to confirm the `ticket`-th SUBSCRIBE of its channel."""

    session: _Session
    ticket: int
    confirmed: asyncio.Future[None]


class RedisBackend(EventBackend):
    """broadcaster's backend API over one self-healing Redis pub/sub connection.

    `url` is a redis://, rediss:// or unix:// URL (its db does not matter: pub/sub channels
    are server-wide). `client_name` names the connection in CLIENT LIST. Reconnection waits
    between `min_backoff` and `max_backoff` seconds (doubling, with jitter). An idle connection
    is pinged every `ping_interval` seconds and dropped when a PING stays unanswered as long.
    `subscribe` waits at most `subscribe_timeout` seconds for Redis's confirmation. At most
    `max_queued` received messages wait for the Broadcast's listener; beyond that the reader
    stops reading and Redis buffers (up to its client-output-buffer-limit for pubsub).
    """

    def __init__(
        self,
        url: str,
        *,
        client_name: str = DEFAULT_CLIENT_NAME,
        connect_timeout: float = 2.0,
        ping_interval: float = 5.0,
        subscribe_timeout: float = 5.0,
        min_backoff: float = 0.1,
        max_backoff: float = 2.0,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        if not 0 < min_backoff <= max_backoff:
            raise ValueError(
                f"need 0 < min_backoff <= max_backoff, not {min_backoff}, {max_backoff}"
            )
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, not {max_queued}")
        # The pool only parses the URL: each session makes its own connection from these
        # settings and closes it when lost. A pooled or PubSub connection is reconnected by
        # redis-py on its next use, which here could leave a subscribed socket nobody reads.
        self._pool = ConnectionPool.from_url(
            url,
            client_name=client_name,
            socket_connect_timeout=connect_timeout,
            socket_timeout=connect_timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        if self._pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisBackend needs decode_responses=False: messages are bytes")
        # One retry: a pooled connection that went stale during an outage is replaced once.
        # A blocking pool: a burst of publishes (the first subscribers of many symbols each
        # store a first price) waits for a connection instead of failing at redis-py's 100.
        self._publisher = aioredis.Redis.from_pool(
            aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=PUBLISH_CONNECTIONS,
                timeout=PUBLISH_POOL_TIMEOUT_SECONDS,
                socket_connect_timeout=connect_timeout,
                socket_timeout=connect_timeout,
                retry=Retry(NoBackoff(), 1),
            )
        )
        self._ping_interval = ping_interval
        self._subscribe_timeout = subscribe_timeout
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._channels: set[str] = set()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._session: _Session | None = None
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_queued)
        self._reader: asyncio.Task[None] | None = None
        self._first_attempt_done = asyncio.Event()
        self._outage_started: float | None = None

    @property
    def connected(self) -> bool:
        """Whether the pub/sub connection is up (its SUBSCRIBEs may still be on their way)."""
        session = self._session
        return session is not None and session.connection.is_connected

    def reception(self, channel: str) -> object | None:
        """The current session once Redis confirmed its latest SUBSCRIBE of `channel`: every
        message published on it from then on arrives, until the connection is lost (the
        next session is another token)."""
        session = self._session
        if (
            session is None
            or not session.connection.is_connected
            or channel not in self._channels
            or not 0 < session.sent[channel] <= session.confirmed[channel]
        ):
            return None
        return session

    async def connect(self) -> None:
        """Start the reader and wait for its first connection attempt, successful or not.

        Never raises for an unreachable Redis: the reader keeps trying (one warning)."""
        if self._reader is not None:
            raise RuntimeError("RedisBackend is already connected")
        self._reader = asyncio.create_task(self._run(), name="stockql-redis-pubsub")
        await self._first_attempt_done.wait()

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.confirmed.done():
                    waiter.confirmed.set_result(None)
        await self._publisher.aclose()
        await self._pool.aclose()

    async def subscribe(self, channel: str) -> None:
        """Subscribe to `channel`; return once Redis confirmed it (at most `subscribe_timeout`).

        While the connection is down this returns at once: the reader subscribes the channel
        as soon as Redis is back, and what is published before then is not received."""
        self._channels.add(channel)
        session = self._session
        if session is None or not session.connection.is_connected:
            return
        session.sent[channel] += 1
        waiter = _Waiter(session, session.sent[channel], asyncio.get_running_loop().create_future())
        self._waiters.setdefault(channel, []).append(waiter)
        try:
            async with asyncio.timeout(self._subscribe_timeout):
                # is_connected was checked in this same step: send_command cannot reconnect
                # this connection behind the reader's back.
                with contextlib.suppress(*_LOST):
                    # On failure the reader sees the loss too; its resubscription confirms.
                    await session.connection.send_command("SUBSCRIBE", channel, check_health=False)
                await waiter.confirmed
        except TimeoutError:
            log.warning(
                "Redis did not confirm SUBSCRIBE %s within %.1f s; going on without it (a "
                "connection that stopped answering is replaced, and subscribed again)",
                channel,
                self._subscribe_timeout,
            )
        finally:
            waiters = self._waiters[channel]
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[channel]

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        session = self._session
        if session is None or not session.connection.is_connected:
            return
        # If this fails the connection is gone, and the reader will not resubscribe it.
        with contextlib.suppress(*_LOST):
            await session.connection.send_command("UNSUBSCRIBE", channel, check_health=False)

    async def publish(self, channel: str, message: bytes) -> None:
        """PUBLISH; raises redis-py's ConnectionError or TimeoutError when Redis is unreachable."""
        await self._publisher.publish(channel, message)

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _run(self) -> None:
        """Connect, read until the connection is lost, back off, again; until cancelled."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            # What ConnectionPool.make_connection does (untyped there): the URL's settings.
            connection = self._pool.connection_class(**self._pool.connection_kwargs)
            started = loop.time()
            try:
                await connection.connect()  # type: ignore[no-untyped-call]  # redis-py
                session, channels = self._start(connection)
                if channels:
                    await connection.send_command("SUBSCRIBE", *channels, check_health=False)
                self._first_attempt_done.set()
                await self._serve(session)
            except _LOST as error:
                self._lost(error)
            except Exception as error:
                # A bug must not end every subscription of the process for good.
                log.exception("Redis pub/sub reader failed; reconnecting")
                self._lost(error)
            finally:
                self._session = None
                await connection.disconnect(nowait=True)
            self._first_attempt_done.set()
            # A connection that dropped soon after it was made counts as a failed attempt,
            # so a server that keeps killing it is not hammered every min_backoff seconds.
            failures = 0 if loop.time() - started >= self._max_backoff else failures + 1
            await asyncio.sleep(self._backoff(failures))

    def _start(self, connection: AbstractConnection) -> tuple[_Session, list[str]]:
        """Make `connection` current; return its session and the channels to SUBSCRIBE on it."""
        # Current before the channels are read, with no await in between: a subscribe()
        # from now on sends its own SUBSCRIBE on it, and one before is in this snapshot.
        session = self._session = _Session(connection)
        channels = sorted(self._channels)
        session.sent.update(channels)
        if self._outage_started is not None:
            log.info(
                "Redis pub/sub connection restored after %.1f s; resubscribing %d channel(s)",
                asyncio.get_running_loop().time() - self._outage_started,
                len(channels),
            )
            self._outage_started = None
        return session, channels

    async def _serve(self, session: _Session) -> None:
        """Read replies until the connection fails; PING when it has been quiet a while."""
        connection = session.connection
        awaiting_pong = False
        while True:
            # With an explicit timeout redis-py returns None when nothing came, keeping any
            # partly read reply for the next call.
            reply = await connection.read_response(timeout=self._ping_interval, push_request=True)
            if reply is None:
                if awaiting_pong:
                    raise RedisTimeoutError(f"no reply to PING within {self._ping_interval} s")
                await connection.send_command("PING", check_health=False)
                awaiting_pong = True
                continue
            awaiting_pong = False
            await self._handle(session, reply)

    async def _handle(self, session: _Session, reply: Any) -> None:
        # Replies are [kind, channel, data] lists; PING answers b"PONG" outside subscribed
        # mode and [b"pong", b""] inside it.
        if not isinstance(reply, list) or len(reply) < 2:
            return
        if reply[0] == b"message":
            channel = reply[1].decode()
            # After an UNSUBSCRIBE, messages already on their way still arrive: drop them.
            if channel in self._channels:
                await self._queue.put(message_event(channel, reply[2]))
        elif reply[0] == b"subscribe":
            self._confirm(session, reply[1].decode())

    def _confirm(self, session: _Session, channel: str) -> None:
        session.confirmed[channel] += 1
        count = session.confirmed[channel]
        for waiter in self._waiters.get(channel, ()):
            # A waiter from a lost connection is served by any confirmation on a newer one:
            # the channel was in use when that connection subscribed again.
            if (waiter.session is not session or waiter.ticket <= count) and (
                not waiter.confirmed.done()
            ):
                waiter.confirmed.set_result(None)

    def _lost(self, error: Exception) -> None:
        # One warning per outage, however many reconnection attempts it takes.
        if self._outage_started is None:
            self._outage_started = asyncio.get_running_loop().time()
            log.warning(
                "Redis pub/sub connection unavailable (%s); reconnecting, %d channel(s) in use",
                error,
                len(self._channels),
            )
        else:
            log.debug("Redis pub/sub reconnection failed: %s", error)

    def _backoff(self, failures: int) -> float:
        """Seconds to wait: up to min_backoff * 2**failures, capped, at least min_backoff."""
        ceiling = min(self._max_backoff, self._min_backoff * 2 ** min(failures, 32))
        # Jitter keeps replicas that lost Redis together from reconnecting in lockstep.
        return random.uniform(self._min_backoff, ceiling)
