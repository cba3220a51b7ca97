"""Real time across real processes: `stockql serve` replicas and `stockql worker`s sharing one
PostgreSQL database and one Redis, driven through HTTP and graphql-transport-ws on loopback.

The tests that only watch share one deployment (two servers, one worker); those that break
something (Redis, a worker) get their own. Each deployment has a `redis-server` of its own
(tests/support/processes.py): pub/sub channels are server-wide, so the shared Redis would mix
these prices with those of any other test run, and a restart or CLIENT KILL there would
disturb them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.typing import StreamRangeResponse
from websockets.asyncio.client import connect

from app.adapters.events.price_feed import stream_key
from domain.events import stock_channel, user_channel
from domain.notifications import Notification, NotificationType, notification_json
from domain.price_codec import decode_price
from domain.sequences import SequenceKey, parse_sequence
from tests.support.accounts import PASSWORD, REGISTER, unique_email
from tests.support.graphql import data
from tests.support.processes import (
    StockqlProcess,
    ThrowawayRedis,
    running_stockql,
    running_stockqls,
    stockql_env,
    throwaway_redis,
)
from tests.support.server import free_port
from tests.support.services import postgres_database
from tests.support.waiting import eventually, subscribed
from tests.support.ws import TRANSPORT_WS, GraphQLWebSocket, graphql_ws

STOCK_PRICE = """
subscription($symbol: String!, $after: String) {
  stockPrice(symbol: $symbol, after: $after) { symbol price sequence }
}
"""
USER_NOTIFICATIONS = "subscription { userNotifications { id type message } }"
UPDATE_PROFILE = """
mutation($name: String!) { updateProfile(input: {name: $name}) { __typename } }
"""
NOTIFICATIONS = "query { notifications(limit: 200) { id type data } }"
ME = "query { me { name watchlist } }"
ADD_TO_WATCHLIST = "mutation($symbol: String!) { addToWatchlist(symbol: $symbol) { watchlist } }"
LOGOUT_EVERYWHERE = "mutation { logoutEverywhere }"

AAPL_STREAM = stream_key("AAPL")
# What a worker logs when it becomes the leader (app/leader.py).
LEADS = "is now the leader"
# The bound for updates to flow again once Redis is back.
RECOVERY = 10.0
# The dead leader's key expires within its lease, the standby tries every third of that,
# and quotes move each second; plus room for a loaded 2-core machine.
LEASE = 3.0
TAKE_OVER = LEASE + LEASE / 3 + 1.0 + 2.0
# Notifications (about 1 KiB each) flooding a subscriber that does not read: well over what
# the kernel may buffer for one socket, and how much the server may grow meanwhile.
SOCKET_BUFFER_MAX = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
FLOOD = max(10_000, 5 * SOCKET_BUFFER_MAX // 2048)
STALL_GROWTH_KIB = 30 * 1024
# Notifications sent to a subscriber that reads them all, and how much the server may grow
# meanwhile (graphql-core 3.3.2 alone kept about 1.2 KiB per event: 7 MiB here).
EVENTS = 6_000
PER_EVENT_GROWTH_KIB = 3 * 1024


@dataclass
class Deployment:
    """Servers and workers of one test, with a client of their Redis."""

    servers: list[StockqlProcess]
    workers: list[StockqlProcess]
    redis: aioredis.Redis
    redis_server: ThrowawayRedis


@asynccontextmanager
async def deployed(
    directory: Path,
    database_url: str,
    *,
    servers: int = 1,
    workers: int = 1,
    **settings: str,
) -> AsyncIterator[Deployment]:
    """`servers` API processes and `workers` worker processes on a fresh Redis and the
    (empty) database at `database_url`, all with `settings` (see stockql_env). The first
    server migrates it, alone, before the others start. Workers log at info: their
    leadership is read from their output."""
    async with throwaway_redis(directory) as redis_server:
        shared = {"database_url": database_url, "redis_url": redis_server.url, **settings}
        first = stockql_env(**shared, port=str(free_port()), migrate_on_start="true")
        others = [
            ("serve", stockql_env(**shared, port=str(free_port()))) for _ in range(servers - 1)
        ]
        others += [
            ("worker", stockql_env(**shared, log_level="info", leader_lease_seconds=str(LEASE)))
            for _ in range(workers)
        ]
        client = aioredis.from_url(redis_server.url)
        try:
            async with (
                running_stockql("serve", first, directory=directory) as migrated,
                running_stockqls(others, directory=directory) as rest,
            ):
                yield Deployment(
                    servers=[migrated, *[p for p in rest if p.command == "serve"]],
                    workers=[p for p in rest if p.command == "worker"],
                    redis=client,
                    redis_server=redis_server,
                )
        finally:
            await client.aclose()


@pytest.fixture(scope="module")
async def replicas(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    """Two servers and one worker, shared by the tests that only watch them."""
    directory = tmp_path_factory.mktemp("replicas")
    async with (
        postgres_database() as database_url,
        # One symbol besides AAPL and MSFT may be live at once, whichever server is asked.
        deployed(directory, database_url, servers=2, max_live_symbols="1") as deployment,
    ):
        yield deployment


async def signed_up(server: StockqlProcess) -> tuple[str, str]:
    """Register a new user through `server`; returns its token and id."""
    body = await server.graphql(
        REGISTER, {"input": {"name": "Ada", "email": unique_email(), "password": PASSWORD}}
    )
    result = data(body)["register"]
    assert result["__typename"] == "AuthPayload", result
    return result["token"], result["user"]["id"]


async def signed_in(ws: GraphQLWebSocket, token: str | None = None) -> None:
    answer = await ws.init({"authToken": token} if token else None)
    assert answer["type"] == "connection_ack", answer


async def watching_notifications(
    ws: GraphQLWebSocket, token: str, user_id: str, redis: aioredis.Redis
) -> str:
    """Sign `ws` in and subscribe it to the user's notifications; returns the operation once
    the server's Redis subscription is live (what is published from then on arrives)."""
    await signed_in(ws, token)
    operation = await ws.subscribe(USER_NOTIFICATIONS)
    await subscribed(redis, user_channel(user_id))
    return operation


async def watching_prices(ws: GraphQLWebSocket, *, after: str | None = None) -> str:
    """Subscribe `ws` (anonymous) to AAPL's prices; returns the operation."""
    await signed_in(ws)
    return await ws.subscribe(STOCK_PRICE, {"symbol": "AAPL", "after": after})


async def next_update(ws: GraphQLWebSocket, operation: str, *, within: float = 10.0) -> Any:
    """The next `data` of one operation, which must carry no errors."""
    payload = await ws.next_payload(operation, within=within)
    assert "errors" not in payload, payload
    (value,) = payload["data"].values()
    return value


def key(update: dict[str, Any]) -> SequenceKey:
    return parse_sequence(update["sequence"])


def stream_entries(
    entries: StreamRangeResponse | None,
) -> list[tuple[str, dict[bytes | str, bytes | str]]]:
    """XRANGE/XREVRANGE entries as (sequence, fields); redis-py types every part as optional."""
    assert entries is not None
    decoded = []
    for entry_id, fields in entries:
        assert isinstance(entry_id, bytes)
        assert fields is not None
        decoded.append((entry_id.decode(), fields))
    return decoded


async def stored_after(redis: aioredis.Redis, sequence: str, last: str = "+") -> list[Any]:
    """The AAPL events in the stream after `sequence` (up to `last`), as the API shows them."""
    entries = await redis.xrange(AAPL_STREAM, min=f"({sequence}", max=last)
    return [
        {"symbol": "AAPL", "price": decode_price(fields[b"event"]).price, "sequence": id_}
        for id_, fields in stream_entries(entries)
    ]


async def newest_sequence(redis: aioredis.Redis) -> str:
    """The sequence of the newest AAPL event in the stream."""
    ((entry_id, _),) = stream_entries(await redis.xrevrange(AAPL_STREAM, count=1))
    return entry_id


async def is_stored(redis: aioredis.Redis, sequence: str) -> bool:
    return bool(await redis.xrange(AAPL_STREAM, min=sequence, max=sequence))


@asynccontextmanager
async def stalled_ws(base_url: str) -> AsyncIterator[GraphQLWebSocket]:
    """A graphql-transport-ws connection whose client buffers little (a 4 KiB socket receive
    buffer, 4 queued messages) and takes no compression: once it stops reading, what the
    server sends soon fills the server's socket buffer and the server's writes block, as
    with a slow mobile client, instead of piling up in the client."""
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        port = urlsplit(base_url).port
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        url = base_url.replace("http://", "ws://") + "/graphql"
        async with connect(
            url,
            sock=sock,
            subprotocols=[TRANSPORT_WS],  # type: ignore[list-item]
            max_queue=4,
            compression=None,
            proxy=None,
        ) as connection:
            yield GraphQLWebSocket(connection, TRANSPORT_WS)
    finally:
        sock.close()


async def renamed_repeatedly(
    server: StockqlProcess, token: str, *, seconds: float, clients: int = 4
) -> int:
    """Change the user's name over and over from `clients` concurrent clients for `seconds`
    (one ACCOUNT_UPDATE notification each); returns how many changes were made."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    counts = [0] * clients

    async def rename(client: int) -> None:
        while loop.time() < deadline:
            name = f"Name {client}-{counts[client]}"
            body = await server.graphql(UPDATE_PROFILE, {"name": name}, token=token)
            assert data(body)["updateProfile"]["__typename"] == "User"
            counts[client] += 1

    async with asyncio.TaskGroup() as group:
        for client in range(clients):
            group.create_task(rename(client))
    return sum(counts)


async def alerts_fired(
    redis: aioredis.Redis, user_id: str, *, count: int, per_second: int = 1000
) -> None:
    """Publish `count` PRICE_ALERT notifications of about 1 KB on the user's channel, as the
    worker's Notifier does but without storing them (only their delivery matters here), at
    `per_second`. Real mutations come too slowly to fill even the kernel's socket buffers
    (up to 4 MiB here), which would hide what the server itself holds."""
    batch = per_second // 10
    for first in range(0, count, batch):
        async with redis.pipeline(transaction=False) as pipeline:
            for number in range(first, min(first + batch, count)):
                notification = Notification(
                    id=f"flood-{number}",
                    user_id=user_id,
                    type=NotificationType.PRICE_ALERT,
                    message="AAPL crossed above 100. " * 40,
                    created_at=datetime.now(UTC),
                    symbol="AAPL",
                )
                pipeline.publish(user_channel(user_id), notification_json(notification))
            await pipeline.execute()
        await asyncio.sleep(0.1)


@dataclass
class MemoryWatch:
    """A server's RSS when the watch began and the highest seen since, in KiB."""

    baseline_kib: int
    peak_kib: int

    @property
    def growth_kib(self) -> int:
        return self.peak_kib - self.baseline_kib


@asynccontextmanager
async def watching_memory(server: StockqlProcess) -> AsyncIterator[MemoryWatch]:
    """Sample the server's RSS every 0.25 s for the duration of the block."""
    watch = MemoryWatch(server.rss_kib(), server.rss_kib())

    async def sample() -> None:
        while True:
            watch.peak_kib = max(watch.peak_kib, server.rss_kib())
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    try:
        yield watch
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        watch.peak_kib = max(watch.peak_kib, server.rss_kib())


async def test_a_subscriber_on_one_server_receives_the_prices_the_worker_publishes(
    replicas: Deployment,
) -> None:
    server_a, _ = replicas.servers
    async with graphql_ws(server_a.base_url) as ws:
        operation = await watching_prices(ws)
        snapshot = await next_update(ws, operation)
        first = await next_update(ws, operation)
        second = await next_update(ws, operation)
    assert key(snapshot) < key(first) < key(second)
    # The worker stored both, one after the other: nothing in between was left out.
    stored = await stored_after(replicas.redis, snapshot["sequence"], second["sequence"])
    assert stored[-2:] == [first, second]


async def test_any_symbol_is_live_through_the_worker_and_the_live_limit_holds_across_servers(
    replicas: Deployment,
) -> None:
    server_a, server_b = replicas.servers
    async with graphql_ws(server_a.base_url) as ws:
        await signed_in(ws)
        ibm = await ws.subscribe(STOCK_PRICE, {"symbol": "IBM"})
        received = [await next_update(ws, ibm) for _ in range(3)]
        async with graphql_ws(server_b.base_url) as other:
            await signed_in(other)
            refused = await other.next_payload(
                await other.subscribe(STOCK_PRICE, {"symbol": "ORCL"})
            )
    assert [update["symbol"] for update in received] == ["IBM"] * 3
    assert key(received[0]) < key(received[1]) < key(received[2])
    # Server A stored IBM's quote as its first event, then the worker (another process)
    # polled IBM because a server had a subscriber of it: the stream starts with these.
    stored = stream_entries(await replicas.redis.xrange(stream_key("IBM")))
    assert [sequence for sequence, _ in stored][:3] == [u["sequence"] for u in received]
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED", refused
    # IBM's subscriber left server A: server B may follow another symbol now.
    async with graphql_ws(server_b.base_url) as other, asyncio.timeout(10.0):
        await signed_in(other)
        while True:
            payload = await other.next_payload(
                await other.subscribe(STOCK_PRICE, {"symbol": "ORCL"})
            )
            if "errors" not in payload:
                break
            await asyncio.sleep(0.2)
    assert payload["data"]["stockPrice"]["symbol"] == "ORCL"


async def test_a_profile_change_sent_to_one_server_notifies_the_subscriber_on_the_other(
    replicas: Deployment,
) -> None:
    server_a, server_b = replicas.servers
    token, user_id = await signed_up(server_b)
    async with graphql_ws(server_a.base_url) as ws:
        operation = await watching_notifications(ws, token, user_id, replicas.redis)
        body = await server_b.graphql(UPDATE_PROFILE, {"name": "Renamed"}, token=token)
        assert data(body)["updateProfile"]["__typename"] == "User"
        notification = await next_update(ws, operation)
    assert notification["type"] == "ACCOUNT_UPDATE"
    listed = data(await server_a.graphql(NOTIFICATIONS, token=token))["notifications"]
    assert [each["id"] for each in listed] == [notification["id"]]


async def test_what_one_server_changes_of_a_user_the_other_answers_at_once(
    replicas: Deployment,
) -> None:
    """Each server keeps the users of recent tokens (domain/user_cache.py); a change made
    through the other server must still be what it answers with, a revocation included."""
    server_a, server_b = replicas.servers
    token, _ = await signed_up(server_b)
    assert data(await server_a.graphql(ME, token=token))["me"] == {"name": "Ada", "watchlist": []}
    await server_b.graphql(UPDATE_PROFILE, {"name": "Renamed"}, token=token)
    await server_b.graphql(ADD_TO_WATCHLIST, {"symbol": "AAPL"}, token=token)
    me = data(await server_a.graphql(ME, token=token))["me"]
    assert me == {"name": "Renamed", "watchlist": ["AAPL"]}
    assert data(await server_b.graphql(LOGOUT_EVERYWHERE, token=token))["logoutEverywhere"]
    refused = await server_a.graphql(ME, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused


async def test_resuming_with_after_on_the_other_server_replays_every_missed_price_in_order(
    replicas: Deployment,
) -> None:
    server_a, server_b = replicas.servers
    async with graphql_ws(server_a.base_url) as ws:
        operation = await watching_prices(ws)
        await next_update(ws, operation)
        taken = await next_update(ws, operation)

    async def several_missed() -> bool:
        return len(await stored_after(replicas.redis, taken["sequence"])) >= 3

    await eventually(several_missed, within=10.0)
    async with graphql_ws(server_b.base_url) as ws:
        operation = await watching_prices(ws, after=taken["sequence"])
        missed = await stored_after(replicas.redis, taken["sequence"])
        # What was missed, then a few live ones: the switch from replay to live is covered.
        received = [await next_update(ws, operation) for _ in range(len(missed) + 3)]
    assert received[: len(missed)] == missed
    # Exactly the stream from there on: in order, no gap, no duplicate.
    assert received == await stored_after(
        replicas.redis, taken["sequence"], received[-1]["sequence"]
    )


async def test_a_long_subscription_keeps_no_server_memory_per_event(
    replicas: Deployment,
) -> None:
    _, server_b = replicas.servers
    token, user_id = await signed_up(server_b)
    async with graphql_ws(server_b.base_url) as ws:
        operation = await watching_notifications(ws, token, user_id, replicas.redis)

        async def read(count: int) -> None:
            for _ in range(count):
                await next_update(ws, operation)

        async with asyncio.timeout(30.0):
            # Warm-up: allocator pools and caches reach their working size first.
            await asyncio.gather(alerts_fired(replicas.redis, user_id, count=1000), read(1000))
            async with watching_memory(server_b) as memory:
                await asyncio.gather(
                    alerts_fired(replicas.redis, user_id, count=EVENTS), read(EVENTS)
                )
    assert memory.growth_kib < PER_EVENT_GROWTH_KIB, memory


async def test_a_subscriber_that_stops_reading_leaves_server_memory_bounded(
    replicas: Deployment,
) -> None:
    server_a, _ = replicas.servers
    token, user_id = await signed_up(server_a)
    async with stalled_ws(server_a.base_url) as ws:
        notes = await watching_notifications(ws, token, user_id, replicas.redis)
        prices = await ws.subscribe(STOCK_PRICE, {"symbol": "AAPL"})
        await subscribed(replicas.redis, stock_channel("AAPL"))
        # Nothing is read from here on, while prices go on and notifications pour in.
        async with watching_memory(server_a) as memory, asyncio.TaskGroup() as group:
            renames = group.create_task(renamed_repeatedly(server_a, token, seconds=5.0))
            group.create_task(alerts_fired(replicas.redis, user_id, count=FLOOD))
        assert memory.growth_kib < STALL_GROWTH_KIB, memory
        async with asyncio.timeout(1.0):
            listed = data(await server_a.graphql(NOTIFICATIONS, token=token))
        assert len(listed["notifications"]) == min(200, renames.result())

        newest = await newest_sequence(replicas.redis)
        received, ended, latest = 0, None, None
        async with asyncio.timeout(15.0):
            while ended is None or latest is None:
                message = await ws.receive()
                if message.get("id") == notes:
                    if message["type"] == "next" and "errors" not in message["payload"]:
                        received += 1
                    else:
                        ended = message
                elif message.get("id") == prices:
                    update = message["payload"]["data"]["stockPrice"]
                    if key(update) >= parse_sequence(newest):
                        latest = update
    # Cut off once too far behind (and told so): the rest was never queued for it.
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "RATE_LIMITED", ended
    assert received < FLOOD
    # The price subscription lived on and, read again, came to the newest price.
    assert key(latest) >= parse_sequence(newest)


async def test_prices_and_notifications_flow_again_after_the_pubsub_connections_are_killed(
    replicas: Deployment,
) -> None:
    server_a, server_b = replicas.servers
    token, user_id = await signed_up(server_b)
    async with graphql_ws(server_a.base_url) as prices, graphql_ws(server_a.base_url) as notes:
        price_operation = await watching_prices(prices)
        await next_update(prices, price_operation)
        notes_operation = await watching_notifications(notes, token, user_id, replicas.redis)

        assert await replicas.redis.client_kill_filter(_type="pubsub") >= 1
        killed_at = parse_sequence(await newest_sequence(replicas.redis))

        async with asyncio.timeout(RECOVERY):
            while key(await next_update(prices, price_operation)) <= killed_at:
                pass
            await subscribed(replicas.redis, user_channel(user_id))
            await server_b.graphql(UPDATE_PROFILE, {"name": "After the kill"}, token=token)
            notification = await next_update(notes, notes_operation)
    assert notification["type"] == "ACCOUNT_UPDATE"


async def test_after_a_redis_restart_prices_flow_again_and_notifications_made_meanwhile_are_listed(
    tmp_path: Path, pg_url: str
) -> None:
    async with deployed(tmp_path, pg_url) as deployment:
        (server,) = deployment.servers
        token, _ = await signed_up(server)
        async with graphql_ws(server.base_url) as ws:
            operation = await watching_prices(ws)
            await next_update(ws, operation)
            await next_update(ws, operation)

            await deployment.redis_server.stop()
            # The notification is stored before it is published: the change succeeds.
            body = await server.graphql(UPDATE_PROFILE, {"name": "Offline"}, token=token)
            assert data(body)["updateProfile"]["__typename"] == "User"
            await deployment.redis_server.start()

            # The restarted Redis is empty: a price stored in it was published after the
            # restart (not one already on its way before).
            async with asyncio.timeout(RECOVERY):
                while not await is_stored(
                    deployment.redis, (await next_update(ws, operation))["sequence"]
                ):
                    pass
        listed = data(await server.graphql(NOTIFICATIONS, token=token))["notifications"]
    assert [(each["type"], each["data"]) for each in listed] == [
        ("ACCOUNT_UPDATE", {"what": "name"})
    ]


async def test_a_standby_worker_takes_over_publishing_when_the_leader_is_killed(
    tmp_path: Path, pg_url: str
) -> None:
    async with deployed(tmp_path, pg_url, workers=2) as deployment:
        (server,) = deployment.servers

        def leaders() -> list[StockqlProcess]:
            return [worker for worker in deployment.workers if LEADS in worker.output()]

        await eventually(lambda: len(leaders()) == 1, within=10.0)
        (leader,) = leaders()
        (standby,) = [worker for worker in deployment.workers if worker is not leader]
        async with graphql_ws(server.base_url) as ws:
            operation = await watching_prices(ws)
            await next_update(ws, operation)
            await next_update(ws, operation)

            leader.kill()
            await leader.process.wait()
            last = parse_sequence(await newest_sequence(deployment.redis))
            async with asyncio.timeout(TAKE_OVER):
                while key(await next_update(ws, operation, within=TAKE_OVER)) <= last:
                    pass
        assert LEADS in standby.output()
