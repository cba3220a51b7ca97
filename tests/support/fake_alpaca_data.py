"""A local fake of Alpaca's market data REST API (https://data.alpaca.markets), for tests.

Usage::

    async with FakeAlpacaData() as fake:        # or the `fake_alpaca_data` fixture
        fake.base_url                           # "http://127.0.0.1:PORT"
        fake.enqueue(status=429, times=1)       # the next call gets this answer
        fake.calls[-1]                          # (path, query parameters) of each call

As Alpaca: the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers must match, else 403
{"message":"forbidden"}; bars come in pages of `page_size` with a next_page_token, daily
bars stamped at midnight New York time (04:00 or 05:00 UTC), intraday ones on their opening
minute; symbols starting with "ZZZ" are unknown (404 on the snapshot, no bars). Prices are
deterministic: day n closes at 100 + n.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from tests.support.fake_alpaca import FAKE_KEY_ID, FAKE_SECRET_KEY, rfc3339
from tests.support.local_server import LocalServer

NEW_YORK = ZoneInfo("America/New_York")
STEPS = {"1Day": timedelta(days=1), "1Min": timedelta(minutes=1), "5Min": timedelta(minutes=5)}


class FakeAlpacaData(LocalServer):
    def __init__(
        self,
        *,
        key_id: str = FAKE_KEY_ID,
        secret_key: str = FAKE_SECRET_KEY,
        page_size: int = 10_000,
        today: datetime | None = None,
    ) -> None:
        super().__init__()
        self.key_id = key_id
        self.secret_key = secret_key
        self.page_size = page_size
        self.today = today or datetime.now(UTC)
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._queue: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v2/stocks/{symbol}/bars", self._bars)
        app.router.add_get("/v2/stocks/{symbol}/snapshot", self._snapshot)

    def enqueue(
        self,
        *,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self._queue.append((status, body or {"message": "fake"}, headers or {}))

    def daily_starts(self, since: datetime) -> list[datetime]:
        """The weekdays' midnights (New York) from `since` up to `today`."""
        day = since.astimezone(NEW_YORK).date()
        days = []
        while day <= self.today.astimezone(NEW_YORK).date():
            if day.weekday() < 5:
                days.append(datetime.combine(day, time(), NEW_YORK))
            day += timedelta(days=1)
        return days

    def _refused(self, request: web.Request) -> web.Response | None:
        self.calls.append((request.path, dict(request.query)))
        headers = request.headers
        if (headers.get("APCA-API-KEY-ID"), headers.get("APCA-API-SECRET-KEY")) != (
            self.key_id,
            self.secret_key,
        ):
            return _json(403, {"message": "forbidden"})
        if self._queue:
            status, body, extra = self._queue.popleft()
            return _json(status, body, extra)
        return None

    async def _bars(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        symbol = request.match_info["symbol"]
        timeframe = request.query.get("timeframe", "")
        if timeframe not in STEPS:
            return _json(422, {"message": f"invalid timeframe: {timeframe}"})
        start = datetime.fromisoformat(request.query["start"])
        starts = [] if symbol.startswith("ZZZ") else self._starts(timeframe, start)
        offset = int(request.query.get("page_token") or 0)
        page = starts[offset : offset + self.page_size]
        more = offset + self.page_size < len(starts)
        bars = [_bar(at, 100.0 + offset + n) for n, at in enumerate(page)]
        return _json(
            200,
            {
                "bars": bars or None,
                "symbol": symbol,
                "next_page_token": str(offset + self.page_size) if more else None,
            },
        )

    def _starts(self, timeframe: str, start: datetime) -> list[datetime]:
        if timeframe == "1Day":
            return self.daily_starts(start)
        step = STEPS[timeframe]
        at = max(start, self.today - timedelta(hours=2)).replace(second=0, microsecond=0)
        starts = []
        while at < self.today:
            starts.append(at)
            at += step
        return starts

    async def _snapshot(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        symbol = request.match_info["symbol"]
        if symbol.startswith("ZZZ"):
            return _json(404, {"message": "not found"})
        at = self.today.replace(microsecond=0)
        day = datetime.combine(at.astimezone(NEW_YORK).date(), time(), NEW_YORK)
        return _json(
            200,
            {
                "symbol": symbol,
                "latestTrade": {"t": rfc3339(at), "x": "V", "p": 187.5, "s": 100, "c": ["@"]},
                "latestQuote": {"t": rfc3339(at), "ap": 187.6, "as": 1, "bp": 187.4, "bs": 2},
                "minuteBar": _bar(at.replace(second=0), 187.5),
                "dailyBar": _bar(day, 187.0),
                "prevDailyBar": _bar(day - timedelta(days=1), 185.0),
            },
        )


def _bar(at: datetime, close: float) -> dict[str, Any]:
    return {
        "t": rfc3339(at),
        "o": close - 1,
        "h": close + 1,
        "l": close - 2,
        "c": close,
        "v": 1000,
        "n": 10,
        "vw": close - 0.25,
    }


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )
