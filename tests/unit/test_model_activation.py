"""Following the active model: every announcement and every interval check syncs the
holder; failures of the store or the bus never end the following; leaving stops it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import pytest

from app.adapters.events.bus import BroadcastBus, open_event_bus
from domain import model_activation
from domain.events import (
    MODEL_ACTIVATIONS_CHANNEL,
    ModelActivated,
    Subscription,
    model_activation_json,
)
from domain.model_activation import following_active_model
from tests.support.waiting import eventually

ANNOUNCEMENT = model_activation_json(ModelActivated("m2", datetime(2024, 6, 1, tzinfo=UTC)))
# Long enough that no interval check runs during a test that waits for an announcement.
NEVER = 3600.0


class Holder:
    """Counts syncs; the first `failures` of them raise as a database outage would."""

    def __init__(self, *, failures: int = 0) -> None:
        self.syncs = 0
        self.failures = failures

    async def sync_active_model(self) -> None:
        self.syncs += 1
        if self.syncs <= self.failures:
            raise ConnectionError("the database is unavailable")


@pytest.fixture
async def bus() -> AsyncIterator[BroadcastBus]:
    async with open_event_bus(None) as opened:
        yield opened


async def test_an_announcement_syncs_the_holder_at_once(bus: BroadcastBus) -> None:
    holder = Holder()
    async with following_active_model(holder, bus, check_seconds=NEVER):
        # One sync right after subscribing covers what was announced before.
        await eventually(lambda: holder.syncs == 1, within=2.0)
        await bus.publish(MODEL_ACTIVATIONS_CHANNEL, ANNOUNCEMENT)
        await eventually(lambda: holder.syncs == 2, within=2.0)


async def test_an_unreadable_announcement_still_syncs(bus: BroadcastBus) -> None:
    holder = Holder()
    async with following_active_model(holder, bus, check_seconds=NEVER):
        await eventually(lambda: holder.syncs == 1, within=2.0)
        await bus.publish(MODEL_ACTIVATIONS_CHANNEL, b"not json")
        await eventually(lambda: holder.syncs == 2, within=2.0)


async def test_the_interval_check_syncs_without_announcements(bus: BroadcastBus) -> None:
    holder = Holder()
    async with following_active_model(holder, bus, check_seconds=0.05):
        await eventually(lambda: holder.syncs >= 4, within=2.0)


async def test_failing_syncs_are_logged_once_and_retried(
    bus: BroadcastBus, caplog: pytest.LogCaptureFixture
) -> None:
    holder = Holder(failures=3)
    with caplog.at_level(logging.INFO, logger=model_activation.__name__):
        async with following_active_model(holder, bus, check_seconds=0.05):
            await eventually(lambda: holder.syncs >= 5, within=2.0)
    messages = [record.getMessage() for record in caplog.records]
    assert sum("checking the active model failed" in m for m in messages) == 1
    assert sum("works again" in m for m in messages) == 1


class FlakyBus:
    """A bus whose first `failures` subscriptions raise, as an unreachable broker would."""

    def __init__(self, bus: BroadcastBus, *, failures: int) -> None:
        self._bus = bus
        self.failures = failures
        self.attempts = 0

    async def publish(self, channel: str, message: bytes) -> None:
        await self._bus.publish(channel, message)

    def subscribe(
        self,
        channel: str,
        *,
        keep_latest_only: bool = False,
        keep_latest_per: Callable[[bytes], Hashable] | None = None,
    ) -> AbstractAsyncContextManager[Subscription]:
        self.attempts += 1
        if self.attempts <= self.failures:
            return _refused()
        return self._bus.subscribe(
            channel, keep_latest_only=keep_latest_only, keep_latest_per=keep_latest_per
        )


@asynccontextmanager
async def _refused() -> AsyncIterator[Subscription]:
    raise ConnectionError("the broker is unreachable")
    yield  # pragma: no cover


async def test_a_failed_subscription_is_tried_again(
    bus: BroadcastBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_activation, "RESUBSCRIBE_SECONDS", 0.01)
    flaky, holder = FlakyBus(bus, failures=2), Holder()
    async with following_active_model(holder, flaky, check_seconds=NEVER):
        await eventually(lambda: holder.syncs == 1, within=2.0)
        assert flaky.attempts == 3
        await flaky.publish(MODEL_ACTIVATIONS_CHANNEL, ANNOUNCEMENT)
        await eventually(lambda: holder.syncs == 2, within=2.0)


async def test_leaving_the_block_stops_following(bus: BroadcastBus) -> None:
    holder = Holder()
    async with following_active_model(holder, bus, check_seconds=0.02):
        await eventually(lambda: holder.syncs >= 2, within=2.0)
    stopped_at = holder.syncs
    await bus.publish(MODEL_ACTIVATIONS_CHANNEL, ANNOUNCEMENT)
    await asyncio.sleep(0.1)
    assert holder.syncs == stopped_at


async def test_a_check_interval_of_zero_is_refused(bus: BroadcastBus) -> None:
    with pytest.raises(ValueError, match="check_seconds"):
        async with following_active_model(Holder(), bus, check_seconds=0):
            pass
