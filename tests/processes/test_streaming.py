"""A streaming provider across real processes: `stockql worker` streams from a fake Alpaca
(and, in another deployment, from a fake Finnhub that refuses its key); `stockql serve`
shares their PostgreSQL and Redis and is asked through graphql-transport-ws and HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.migrate import upgrade_database
from tests.support.fake_alpaca import FakeAlpacaStream
from tests.support.fake_finnhub import FakeFinnhub
from tests.support.graphql import data
from tests.support.metrics import Samples, scrape
from tests.support.processes import running_stockqls, stockql_env, throwaway_redis
from tests.support.server import free_port
from tests.support.services import postgres_database
from tests.support.waiting import eventually
from tests.support.ws import graphql_ws

STOCK_PRICE = 'subscription { stockPrice(symbol: "AAPL") { symbol price timestamp } }'
MINUTE_BARS = """
{ history(symbol: "MSFT", interval: MIN1) { source columns { timestamp open close volume } } }
"""
QUICK_STREAM = {
    "stream_flush_seconds": "0.2",
    "stream_follow_seconds": "0.2",
    "stream_reconnect_first_seconds": "0.05",
    "stream_reconnect_max_seconds": "0.2",
}


async def test_fake_alpaca_trades_reach_subscribers_and_become_min1_history(
    tmp_path: Path,
) -> None:
    worker_metrics, bad_metrics = free_port(), free_port()
    async with (
        FakeAlpacaStream() as alpaca,
        FakeFinnhub() as finnhub,
        postgres_database() as database_url,
        throwaway_redis(tmp_path) as redis,
    ):
        await asyncio.to_thread(upgrade_database, database_url)
        stream = {
            "database_url": database_url,
            "redis_url": redis.url,
            "symbols": "AAPL,MSFT,TSLA",
            # History from the simulator: the Alpaca keys alone would pick Alpaca's REST API.
            "provider": "simulator",
            "stream_provider": "alpaca",
            "alpaca_key_id": alpaca.key_id,
            "alpaca_secret_key": alpaca.secret_key,
            "alpaca_stream_url": alpaca.url,
            "alpaca_max_symbols": "2",  # TSLA is past the limit
            **QUICK_STREAM,
        }
        refused = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'refused.db'}",
            "migrate_on_start": "true",
            "stream_provider": "finnhub",
            "finnhub_api_key": "not-the-key",
            "finnhub_stream_url": finnhub.url,
            "worker_metrics_port": str(bad_metrics),
            "log_level": "info",
            **QUICK_STREAM,
        }
        commands = [
            ("serve", stockql_env(**stream, port=str(free_port()))),
            (
                "worker",
                stockql_env(**stream, worker_metrics_port=str(worker_metrics), log_level="info"),
            ),
            ("worker", stockql_env(**refused)),
        ]
        async with running_stockqls(commands, directory=tmp_path) as (serve, worker, bad):
            await alpaca.wait_subscribed({"AAPL", "MSFT"}, seconds=30)
            async with graphql_ws(serve.base_url) as ws:
                assert (await ws.init())["type"] == "connection_ack"
                operation = await ws.subscribe(STOCK_PRICE)
                await ws.next_payload(operation)  # the latest known price, at once
                await asyncio.sleep(0.5)  # the server's subscription is live by now
                now = datetime.now(UTC)
                await alpaca.send_trades([("AAPL", 123.45, 10, now), ("MSFT", 321.0, 7, now)])
                while (await ws.next_payload(operation))["data"]["stockPrice"]["price"] != 123.45:
                    pass

                # A dropped connection is resumed and resubscribed; prices keep coming.
                await alpaca.drop()
                await alpaca.wait_connections(2, seconds=10)
                await alpaca.wait_subscribed({"AAPL", "MSFT"}, seconds=10)
                await alpaca.send_trades([("AAPL", 124.5, 1, datetime.now(UTC))])
                while (await ws.next_payload(operation))["data"]["stockPrice"]["price"] != 124.5:
                    pass

            history: dict[str, object] = {}

            async def minute_bars_served() -> bool:
                nonlocal history
                body = await serve.graphql(MINUTE_BARS)
                if body.get("errors"):  # NOT_FOUND until the first flush
                    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
                    return False
                history = data(body)["history"]
                return True

            await eventually(minute_bars_served, within=10, every=0.2)
            assert history["source"] == "alpaca-stream"
            minute = now.replace(second=0, microsecond=0)
            columns = history["columns"]
            assert isinstance(columns, dict)
            assert [datetime.fromisoformat(t) for t in columns["timestamp"]] == [minute]
            assert (columns["open"], columns["close"], columns["volume"]) == (
                [321.0],
                [321.0],
                [7.0],
            )
            good = await worker_samples(worker_metrics)
            assert good.value("stockql_stream_reconnects_total", provider="alpaca") >= 1
            assert (
                good.value("stockql_stream_problems_total", provider="alpaca", code="symbol_limit")
                == 1
            )
            assert good.value("stockql_stream_trades_total", provider="alpaca") == 3

            async def refusal_counted() -> bool:
                samples = await worker_samples(bad_metrics)
                return (
                    samples.value("stockql_stream_problems_total", provider="finnhub", code="auth")
                    >= 1
                )

            await eventually(refusal_counted, within=10, every=0.2)
            assert bad.process.returncode is None  # reported, never a crash
        assert "TSLA not streamed" in worker.output()
        assert "finnhub refused the API key" in bad.output()
        assert "not-the-key" not in bad.output()


async def worker_samples(port: int) -> Samples:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        return await scrape(client)
