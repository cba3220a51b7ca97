"""New prices and predictions drop the cached responses that read their symbol, where they
are appended or stored.

Every price goes through a PriceFeed's `append` (the worker's polling and streams, and the
snapshot a new subscription takes), so wrapping the feed catches them all. With Redis the
response store is shared by every process, so the process that appends invalidates for all;
without Redis prices are appended in the one process that serves them.
"""

from __future__ import annotations

from datetime import datetime

from app.adapters.response_stores import ResponseStore
from domain.events import PriceFeed, PriceUpdated
from domain.predictions import Prediction, PredictionStore


class InvalidatingPriceFeed:
    """A PriceFeed whose every new price invalidates its symbol's cached responses."""

    def __init__(self, feed: PriceFeed, responses: ResponseStore) -> None:
        self._feed = feed
        self._responses = responses

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        # Before: a subscriber told of the new price must not be answered the old one. After:
        # a response computed from the old price in between is dropped too.
        await self._responses.invalidate(event.symbol)
        appended = await self._feed.append(event)
        await self._responses.invalidate(appended.symbol)
        return appended

    async def after(self, symbol: str, sequence: str, *, limit: int = 1000) -> list[PriceUpdated]:
        return await self._feed.after(symbol, sequence, limit=limit)

    async def latest(self, symbol: str) -> PriceUpdated | None:
        return await self._feed.latest(symbol)


class InvalidatingPredictionStore:
    """A PredictionStore whose every new prediction invalidates its symbol's cached
    responses: `predictions(symbol)` shows a prediction as soon as `predict` returns it."""

    def __init__(self, store: PredictionStore, responses: ResponseStore) -> None:
        self._store = store
        self._responses = responses

    async def add(self, prediction: Prediction) -> None:
        await self._store.add(prediction)
        await self._responses.invalidate(prediction.symbol)

    async def recent(self, symbol: str, *, limit: int) -> list[Prediction]:
        return await self._store.recent(symbol, limit=limit)

    async def latest(self, symbol: str) -> Prediction | None:
        return await self._store.latest(symbol)

    async def delete_older_than(self, cutoff: datetime) -> int:
        return await self._store.delete_older_than(cutoff)
