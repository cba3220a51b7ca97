"""The latest quote without GraphQL: the baseline server of bench/latest_price_load.py.

    .venv/bin/python bench/_plain_quote_app.py --port 8001

Settings come from the STOCKQL_* environment like `stockql serve`; the quote comes from the
project's own QuoteService (same cache, same provider) and is written with orjson in the shape
of the GraphQL response. Served by uvicorn with the options `stockql serve` uses.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.health import healthz
from app.runtime import open_runtime
from app.settings import Settings


async def latest_price(request: Request) -> Response:
    quote = await request.app.state.runtime.services.quotes.latest(
        request.query_params.get("symbol", "AAPL")
    )
    fields = {
        "symbol": quote.symbol,
        "price": quote.price,
        "open": quote.open,
        "high": quote.high,
        "low": quote.low,
        "previousClose": quote.previous_close,
        "change": quote.change,
        "changePercent": quote.change_percent,
        "volume": quote.volume,
        "timestamp": quote.timestamp,
        "source": quote.source,
        "stale": quote.stale,
    }
    # OPT_UTC_Z spells UTC as "Z" like the DateTime scalar.
    body = orjson.dumps({"data": {"latestPrice": fields}}, option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


def create_plain_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            yield

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/quote", latest_price)],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Plain quote server for the load bench.")
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    settings = Settings()
    uvicorn.run(
        create_plain_app(settings),
        host="127.0.0.1",
        port=port,
        log_level=settings.log_level,
        ws="websockets-sansio",
    )
