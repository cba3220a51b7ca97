"""Virtual users sending the mixed HTTP load of bench/load_test.py, in a process of their own.

    .venv/bin/python bench/_load_users.py --base-url http://127.0.0.1:8000 --users 24

Each virtual user has its own client address (X-Forwarded-For; the server must trust it), so
the per-address limits apply per user as they would to real clients behind a proxy. Talks to
the bench on stdin/stdout, one JSON line each way:

1. registers every user, then prints {"users": [{"id", "token", "email"}, ...]};
2. waits for a line on stdin, then every user sends operations one after the other, picked at
   random by weight from bench/_load_mix.py (with --think seconds between them), except the
   first user, who only logs in (a login storm, rate limited on purpose);
3. on the next line on stdin, lets the requests in flight finish and prints
   {"operations": {name: {"latencies_ms", "statuses", "codes", "typenames", "failures"}}}.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import aiohttp
import orjson
import uvloop
from _load_lines import heard, say
from _load_mix import (
    ADD_TO_WATCHLIST,
    CREATE_ALERT,
    DELETE_ALERT,
    HISTORY,
    LATEST_PRICE,
    LOGIN,
    PASSWORD,
    PICKED,
    PREDICT,
    REGISTER,
    REMOVE_FROM_WATCHLIST,
    SEARCH,
    SEARCHES,
    SYMBOLS,
    UPDATE_PROFILE,
    Operation,
)

from domain.alerts.model import MAX_ACTIVE_ALERTS

LOGIN_STORM_USER = 0  # see _load_mix.LOGIN


@dataclass
class Tally:
    """What one operation got back over the run."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)  # extensions.code of every error
    typenames: Counter[str] = field(default_factory=Counter)  # result union members
    failures: Counter[str] = field(default_factory=Counter)  # no HTTP answer at all

    def as_json(self) -> dict[str, Any]:
        return {
            "latencies_ms": [round(value, 3) for value in self.latencies_ms],
            "statuses": {str(status): count for status, count in self.statuses.items()},
            "codes": dict(self.codes),
            "typenames": dict(self.typenames),
            "failures": dict(self.failures),
        }


@dataclass
class VirtualUser:
    number: int
    email: str
    address: str
    random: random.Random
    token: str = ""
    user_id: str = ""
    alert_ids: list[str] = field(default_factory=list)


class Load:
    def __init__(self, client: aiohttp.ClientSession, think: float) -> None:
        self.client = client
        self.think = think
        self.tallies: defaultdict[str, Tally] = defaultdict(Tally)
        self.stopping = asyncio.Event()

    async def send(
        self, user: VirtualUser, operation: Operation, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send one operation as `user` and tally the answer; returns the decoded body."""
        headers = {"content-type": "application/json", "x-forwarded-for": user.address}
        if operation.signed_in:
            headers["authorization"] = f"Bearer {user.token}"
        tally = self.tallies[operation.name]
        started = time.perf_counter()
        try:
            async with self.client.post(
                "/graphql",
                data=orjson.dumps({"query": operation.document, "variables": variables or {}}),
                headers=headers,
            ) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            tally.failures[type(error).__name__] += 1
            return {}
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        tally.statuses[status] += 1
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            tally.codes["(body is not JSON)"] += 1
            return {}
        for error in body.get("errors") or ():
            tally.codes[str((error.get("extensions") or {}).get("code", "(no code)"))] += 1
        for value in (body.get("data") or {}).values():
            if isinstance(value, dict) and "__typename" in value:
                tally.typenames[value["__typename"]] += 1
        return body

    async def register(self, user: VirtualUser) -> None:
        variables = {"input": {"name": f"Load {user.number}", "email": user.email}}
        variables["input"]["password"] = PASSWORD
        body = await self.send(user, REGISTER, variables)
        result = (body.get("data") or {}).get("register") or {}
        if result.get("__typename") != "AuthPayload":
            raise RuntimeError(f"register of {user.email} failed: {body}")
        user.token, user.user_id = result["token"], result["user"]["id"]

    async def run(self, user: VirtualUser) -> None:
        weights = [operation.weight for operation in PICKED]
        while not self.stopping.is_set():
            storming = user.number == LOGIN_STORM_USER
            (operation,) = [LOGIN] if storming else user.random.choices(PICKED, weights)
            await self.act(user, operation)
            if self.think:
                await asyncio.sleep(self.think)

    async def act(self, user: VirtualUser, operation: Operation) -> None:
        pick = user.random
        symbol = pick.choice(SYMBOLS)
        if operation is CREATE_ALERT and len(user.alert_ids) >= MAX_ACTIVE_ALERTS:
            # Creates outweigh deletes in the mix: at a high enough rate a user reaches the
            # cap, where the server refuses (ValidationError) and a real user deletes one.
            operation = DELETE_ALERT
        if operation is HISTORY:
            end = date(2024, 12, 31) - timedelta(days=pick.randrange(700))
            start = end - timedelta(days=pick.choice((30, 90, 365)))
            variables = {"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()}
            await self.send(user, operation, variables)
        elif operation in (LATEST_PRICE, ADD_TO_WATCHLIST, REMOVE_FROM_WATCHLIST):
            await self.send(user, operation, {"symbol": symbol})
        elif operation is SEARCH:
            await self.send(user, operation, {"query": pick.choice(SEARCHES)})
        elif operation is PREDICT:
            await self.send(user, operation, {"input": {"symbol": symbol}})
        elif operation is LOGIN:
            await self.send(user, operation, {"input": {"email": user.email, "password": PASSWORD}})
        elif operation is UPDATE_PROFILE:
            name = f"Load {user.number} {pick.randrange(1000)}"
            await self.send(user, operation, {"input": {"name": name}})
        elif operation is CREATE_ALERT:
            # Far from the price: stored and evaluated on every tick, never firing.
            alert = {"symbol": symbol, "condition": "PRICE_ABOVE", "threshold": 1e9}
            body = await self.send(user, operation, {"input": alert})
            created = (body.get("data") or {}).get("createAlert") or {}
            if "id" in created:
                user.alert_ids.append(created["id"])
        elif operation is DELETE_ALERT:
            if user.alert_ids:
                alert_id = user.alert_ids.pop(pick.randrange(len(user.alert_ids)))
                await self.send(user, operation, {"id": alert_id})
        else:
            await self.send(user, operation)


async def main(arguments: argparse.Namespace) -> None:
    # aiohttp rather than httpx: at ~340 requests/s httpx took ~2 ms of CPU per request, as
    # much as the server, on the same two cores (see docs/PERFORMANCE.md, "Load test").
    async with aiohttp.ClientSession(
        base_url=arguments.base_url,
        connector=aiohttp.TCPConnector(limit=arguments.users),
        timeout=aiohttp.ClientTimeout(total=arguments.timeout),
    ) as client:
        load = Load(client, arguments.think)
        users = [
            VirtualUser(
                number=number,
                email=f"load{number}-{arguments.run_id}@example.com",
                address=f"10.77.{number // 250}.{number % 250 + 1}",
                random=random.Random(arguments.seed * 1_000_003 + number),
            )
            for number in range(arguments.users)
        ]
        await asyncio.gather(*(load.register(user) for user in users))
        say({"users": [{"id": u.user_id, "token": u.token, "email": u.email} for u in users]})
        await heard()
        running = [asyncio.create_task(load.run(user)) for user in users]
        await heard()
        load.stopping.set()
        await asyncio.gather(*running)
        say({"operations": {name: tally.as_json() for name, tally in load.tallies.items()}})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--think", type=float, default=0.0, help="seconds between requests")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-id", default="0", help="makes the emails unique per run")
    uvloop.run(main(parser.parse_args()))
