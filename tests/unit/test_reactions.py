"""domain/reactions.py: the table of what follows an event, a failing handler's isolation, and
PricePublisher announcing through it (fakes for quotes, feed and history)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from domain.alerts.model import AlertCondition
from domain.errors import UpstreamUnavailable
from domain.events import DailyBarAdded, PriceUpdated, RecommendationChanged, user_channel
from domain.market import Interval, Quote
from domain.notifications import NotificationType
from domain.price_publishing import PricePublisher
from domain.reactions import Reactions, react_to_events
from tests.support.notification_fakes import (
    NOW,
    MemoryAlertStore,
    MemoryNotificationStore,
    RecordingBus,
    alert_service,
)

TICK = PriceUpdated("AAPL", 180.0, NOW, sequence="1-0")


class ScriptedQuotes:
    """QuoteService.refresh answering the quotes given, one per call."""

    def __init__(self, *quotes: Quote) -> None:
        self._quotes = list(quotes)

    async def refresh(self, symbol: str) -> Quote:
        return self._quotes.pop(0)


class RecordingFeed:
    """PriceFeed.append giving each event the next sequence."""

    def __init__(self) -> None:
        self.appended: list[PriceUpdated] = []

    async def append(self, event: PriceUpdated) -> PriceUpdated:
        stored = replace(event, sequence=f"{len(self.appended) + 1}-0")
        self.appended.append(stored)
        return stored


class NoStoredHistory:
    """HistoryService.stored_series when the database cannot answer: no RSI."""

    async def stored_series(self, symbol: str, interval: Interval) -> object:
        raise UpstreamUnavailable("database down")


async def nothing_to_predict(symbol: str) -> None:
    raise AssertionError(f"no daily bar was added, {symbol} must not be predicted")


def quote(price: float, *, minutes: int = 0, stale: bool = False) -> Quote:
    return Quote("AAPL", price, NOW + timedelta(minutes=minutes), "test", stale=stale)


async def test_handlers_of_the_event_type_run_in_order_and_no_others() -> None:
    reactions = Reactions()
    seen: list[str] = []

    async def first(event: object) -> None:
        seen.append(f"first {type(event).__name__}")

    async def second(event: object) -> None:
        seen.append(f"second {type(event).__name__}")

    reactions.on(PriceUpdated, first)
    reactions.on(PriceUpdated, second)
    reactions.on(DailyBarAdded, first)
    await reactions.react(TICK)
    assert seen == ["first PriceUpdated", "second PriceUpdated"]
    await reactions.react(RecommendationChanged("AAPL", "HOLD", "BUY"))  # nobody listens
    assert len(seen) == 2


async def test_a_failing_handler_is_logged_and_the_next_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reactions = Reactions()
    seen: list[object] = []

    async def broken(event: object) -> None:
        raise RuntimeError("boom")

    async def keeps_going(event: object) -> None:
        seen.append(event)

    reactions.on(PriceUpdated, broken)
    reactions.on(PriceUpdated, keeps_going)
    with caplog.at_level(logging.ERROR, logger="domain.reactions"):
        await reactions.react(TICK)  # raises nothing
    assert seen == [TICK]
    assert "reacting to PriceUpdated" in caplog.text


async def test_a_new_daily_bar_predicts_its_symbol_again() -> None:
    predicted: list[str] = []

    async def predict(symbol: str) -> None:
        predicted.append(symbol)

    alerts = alert_service(MemoryAlertStore(), MemoryNotificationStore(), RecordingBus())
    reactions = react_to_events(
        Reactions(),
        alerts=alerts,
        history=NoStoredHistory(),  # type: ignore[arg-type]
        predict=predict,
    )
    await reactions.react(DailyBarAdded("MSFT"))
    assert predicted == ["MSFT"]


async def test_a_published_price_fires_the_alerts_of_its_symbol_once_per_change() -> None:
    notifications, bus = MemoryNotificationStore(), RecordingBus()
    alerts = alert_service(MemoryAlertStore(), notifications, bus)
    await alerts.create("u1", symbol="AAPL", condition=AlertCondition.PRICE_ABOVE, threshold=180)
    reactions = react_to_events(
        Reactions(),
        alerts=alerts,
        history=NoStoredHistory(),  # type: ignore[arg-type]
        predict=nothing_to_predict,
    )
    feed = RecordingFeed()
    publisher = PricePublisher(
        quotes=ScriptedQuotes(quote(179.0), quote(179.0), quote(181.0, minutes=1)),  # type: ignore[arg-type]
        feed=feed,  # type: ignore[arg-type]
        reactions=reactions,
    )

    first = await publisher.publish("AAPL")
    assert first is not None
    assert first.sequence == "1-0"
    assert await publisher.publish("AAPL") is None  # unchanged: neither appended nor announced
    fired = await publisher.publish("AAPL")

    assert fired is not None
    assert [event.price for event in feed.appended] == [179.0, 181.0]
    [notification] = notifications.items
    assert (notification.user_id, notification.type) == ("u1", NotificationType.PRICE_ALERT)
    assert [channel for channel, _ in bus.published] == [user_channel("u1")]


async def test_a_stale_quote_is_neither_published_nor_announced() -> None:
    announced: list[object] = []

    async def record(event: object) -> None:
        announced.append(event)

    reactions = Reactions()
    reactions.on(PriceUpdated, record)
    feed = RecordingFeed()
    publisher = PricePublisher(
        quotes=ScriptedQuotes(quote(179.0, stale=True)),  # type: ignore[arg-type]
        feed=feed,  # type: ignore[arg-type]
        reactions=reactions,
    )
    assert await publisher.publish("AAPL") is None
    assert (feed.appended, announced) == ([], [])
