"""A burst of the largest responses leaves `stockql serve`'s memory near where it started.

The audit's burst (eight concurrent requests of 30 aliases of `history(limit: 20000)` with
five indicators, 12.6 MB each) took a server from 454 to 1,193 MiB and it stayed above
1,100 MiB. On the defaults those requests are refused before they run (QUERY_TOO_EXPENSIVE),
and the largest the simulator can answer are served without the server growing much;
what they freed is given back (app/memory_release.py). See docs/PERFORMANCE.md, "Memory after
a burst", for the measurements with the budget lifted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import embedded_serve_env, rss_kib, running_stockql
from tests.support.server import free_port
from tests.support.waiting import eventually

MIB = 1024
INDICATORS = (
    "sma { timestamp value } ema { timestamp value } rsi { timestamp value } "
    "macd { timestamp macd signal histogram } bollinger { timestamp upper middle lower }"
)
AUDIT_HEAVY = f'history(symbol: "AAPL", limit: 20000) {{ bars {{ close }} {INDICATORS} }}'
# 11,700 one-minute bars (all the simulator keeps) x 16 values: 187,200 values, the largest
# answer the simulator can give to one history field (the default budget is 500,000).
LARGEST = (
    'history(symbol: "AAPL", interval: ONE_MINUTE, limit: 11700) '
    f"{{ bars {{ timestamp close }} {INDICATORS} }}"
)


def aliased(field: str, prefix: str, count: int) -> str:
    return "{ " + " ".join(f"{prefix}{i}: {field}" for i in range(count)) + " }"


async def test_rss_stays_and_returns_near_its_start_through_a_burst_of_the_largest_requests(
    tmp_path: Path,
) -> None:
    env = embedded_serve_env(
        tmp_path,
        free_port(),
    )
    async with (
        running_stockql("serve", env, directory=tmp_path) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=120) as client,
    ):

        async def post(query: str) -> dict[str, Any]:
            response = await client.post("/graphql", json={"query": query})
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

        # The first request loads the bars and warms the caches: the start is after it.
        assert "errors" not in await post(aliased(LARGEST, "warm", 1))
        await asyncio.sleep(2)
        start = peak = rss_kib(server.pid)

        async def sample_peak() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_kib(server.pid))
                await asyncio.sleep(0.05)

        sampling = asyncio.create_task(sample_peak())
        audit = [post(aliased(AUDIT_HEAVY, f"audit{n}_", 30)) for n in range(8)]
        largest = [post(aliased(LARGEST, f"burst{n}_", 1)) for n in range(16)]
        answers = await asyncio.gather(*audit, *largest)
        sampling.cancel()
        refused = [body["errors"][0]["extensions"]["code"] for body in answers[:8]]
        assert refused == ["QUERY_TOO_EXPENSIVE"] * 8
        assert all("errors" not in body for body in answers[8:])
        # All the simulator keeps, less what the 45-day lookback may cut off the oldest
        # session (see tests/api/test_market_api.py::test_intraday_and_weekly_history).
        assert len(answers[8]["data"]["burst0_0"]["bars"]) >= 29 * 390
        assert peak - start < 160 * MIB, f"peak {peak // MIB} MiB from {start // MIB} MiB"

        def back_near_start() -> bool:
            return rss_kib(server.pid) - start < 32 * MIB

        try:
            await eventually(back_near_start, within=15)
        except TimeoutError:
            raise AssertionError(
                f"RSS {rss_kib(server.pid) // MIB} MiB, {start // MIB} MiB before the burst "
                f"(peak {peak // MIB} MiB)"
            ) from None
