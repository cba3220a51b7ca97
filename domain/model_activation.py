"""Every api process and worker predicts with the active model, within seconds of its
activation and without a restart.

Activation is an event: the process that activates a model announces it on
MODEL_ACTIVATIONS_CHANNEL, and every process following it loads the model at once. Events
are live only (one published while Redis is down, or before a process subscribed, is lost),
so each process also checks the active version every `check_seconds` (a one-row query); the
announcement makes it fast, the check makes it certain. With the in-process bus (the
embedded default) only the check sees models activated by another process (`stockql train`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from domain.cancellation import raise_if_cancelled
from domain.events import (
    MODEL_ACTIVATIONS_CHANNEL,
    EventBus,
    SubscriberOverflow,
    model_activation_from_json,
)

log = logging.getLogger(__name__)

# After the subscription failed or ended unexpectedly, subscribe again after this long.
RESUBSCRIBE_SECONDS = 1.0


class ActiveModelHolder(Protocol):
    async def sync_active_model(self) -> object:
        """Load the active model if it is not the one held (see PredictionService)."""
        ...


@asynccontextmanager
async def following_active_model(
    holder: ActiveModelHolder, bus: EventBus, *, check_seconds: float
) -> AsyncIterator[None]:
    """Keep `holder` on the active model for the duration of the block: on every
    announcement, and every `check_seconds` seconds. Neither an unreachable Redis nor an
    unreachable database ends it: failures are logged and the next event or check retries."""
    if check_seconds <= 0:
        raise ValueError(f"check_seconds must be above 0, not {check_seconds}")
    follower = _Follower(holder)
    tasks = [
        asyncio.create_task(follower.listen(bus), name="stockql-model-announcements"),
        asyncio.create_task(follower.check_every(check_seconds), name="stockql-model-check"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Follower:
    def __init__(self, holder: ActiveModelHolder) -> None:
        self._holder = holder
        # Whether the last sync failed: an outage is logged when it starts and when it ends,
        # not at every check.
        self._failing = False

    async def listen(self, bus: EventBus) -> None:
        while True:
            try:
                async with bus.subscribe(MODEL_ACTIVATIONS_CHANNEL) as announcements:
                    # An activation announced before this subscription was ready is missed:
                    # look once now rather than wait for the next check.
                    await self.sync("subscribed")
                    async for message in announcements:
                        await self.sync(_announced(message))
                # Ended by the bus (its listener failed; at shutdown this task is cancelled
                # before the bus closes).
                log.warning("model announcements ended; subscribing again")
            except SubscriberOverflow:
                log.warning("model announcements overflowed; subscribing again")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("model announcements unavailable (%s); subscribing again", error)
            raise_if_cancelled()
            await asyncio.sleep(RESUBSCRIBE_SECONDS)

    async def check_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.sync("interval check")

    async def sync(self, why: str) -> None:
        try:
            await self._holder.sync_active_model()
            raise_if_cancelled()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not self._failing:
                log.warning("checking the active model failed (%s): %s", why, error)
            self._failing = True
            return
        if self._failing:
            log.info("checking the active model works again (%s)", why)
        self._failing = False


def _announced(message: bytes) -> str:
    try:
        return f"model {model_activation_from_json(message).version} announced"
    except (ValueError, KeyError, TypeError):
        # The store, not the message, says which model is active: check it anyway.
        return "unreadable announcement"
