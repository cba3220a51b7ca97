"""What happens after something happened, in one table: the handlers of each kind of event.

Publishers only announce (`await reactions.react(event)`); which alerts, notifications and
predictions follow is decided here, in `react_to_events`, and nowhere else. After
cosmicpython's message bus: events only, handled in order, in the announcing task."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain.alerts.reactions import price_alerts, recommendation_alerts
from domain.alerts.service import AlertService
from domain.events import DailyBarAdded, PriceUpdated, RecommendationChanged
from domain.history import HistoryService

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[object]]


class Reactions:
    """Handlers per event type, run in the order they were added; one failing is logged and
    the others still run, so a reaction never fails what announced the event."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}

    def on(self, event_type: type, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def handlers(self, event_type: type) -> tuple[Handler, ...]:
        return tuple(self._handlers.get(event_type, ()))

    async def react(self, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            try:
                await handler(event)
            except Exception:
                log.exception("reacting to %s with %s failed", type(event).__name__, handler)


def react_to_events(
    reactions: Reactions,
    *,
    alerts: AlertService,
    history: HistoryService,
    predict: Callable[[str], Awaitable[object]],
) -> Reactions:
    """The table. `predict` (PredictionService.predict) predicts a symbol again."""
    reactions.on(PriceUpdated, price_alerts(alerts, history))
    reactions.on(RecommendationChanged, recommendation_alerts(alerts))
    # A new daily bar changes what the signals see (announced by the worker's daily refresh).
    reactions.on(DailyBarAdded, lambda event: predict(event.symbol))
    return reactions
