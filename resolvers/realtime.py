"""Subscriptions: prices per symbol (with replay), all prices, a user's notifications,
prediction updates. Shared payloads are offered to the websocket operation's output first
(the operation's root value, see graphql_schema/fanout) and yielded only when it cannot take
them."""

from collections.abc import AsyncGenerator

import strawberry

from domain.errors import Forbidden, RateLimited
from domain.events import (
    ALL_PREDICTIONS_CHANNEL,
    SubscriberOverflow,
    predictions_channel,
    user_channel,
)
from domain.realtime_streams import all_prices, notifications_of, predictions_of, prices_of
from domain.symbols import normalize_symbol
from domain.users import Role
from graphql_schema.context import Info
from graphql_schema.fanout.operation import operation_output
from graphql_schema.types.notifications import Notification
from graphql_schema.types.realtime import PredictionUpdate, StockPriceUpdate


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(
        description="Sends the latest known price at once, then every update. With `after`, "
        "first replays what came after that sequence. Any known symbol: one the server does "
        "not track is followed live while subscribed to (RATE_LIMITED when the server "
        "follows as many extra symbols as it may)."
    )
    async def stock_price(
        self, info: Info, symbol: str, after: str | None = None
    ) -> AsyncGenerator[StockPriceUpdate, None]:
        services = info.context.services
        output = operation_output(info.root_value)
        async for event in prices_of(
            normalize_symbol(symbol),
            after,
            openings=services.openings,
            feed=services.prices,
            bus=services.bus,
            tracked=services.tracked,
            direct=output.sender(StockPriceUpdate.from_domain) if output else None,
        ):
            update = StockPriceUpdate.from_domain(event)
            if output is None or not await output.send(update):
                yield update

    @strawberry.subscription(
        description="Sends the latest price of every tracked symbol at once, then every "
        "price update of every symbol."
    )
    async def all_stocks(self, info: Info) -> AsyncGenerator[StockPriceUpdate, None]:
        services = info.context.services
        output = operation_output(info.root_value)
        async for event in all_prices(
            bus=services.bus,
            tracked=services.tracked,
            openings=services.openings,
            direct=output.sender(StockPriceUpdate.from_domain) if output else None,
        ):
            update = StockPriceUpdate.from_domain(event)
            if output is None or not await output.send(update):
                yield update

    @strawberry.subscription(
        description="Requires a token in connection_init. userId, when given, must be the "
        "caller's own (ADMIN may watch anyone)."
    )
    async def user_notifications(
        self, info: Info, user_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Notification, None]:
        user = await info.context.require_user()
        target = str(user_id) if user_id is not None else user.id
        if target != user.id and user.role is not Role.ADMIN:
            raise Forbidden("Only an ADMIN may watch another user's notifications")
        try:
            async for notification in notifications_of(
                info.context.services.bus, user_channel(target)
            ):
                yield Notification.from_domain(notification)
        except SubscriberOverflow:
            raise RateLimited(
                "Too many notifications were waiting: subscribe again and read `notifications`",
                retry_after_seconds=1,
            ) from None

    @strawberry.subscription(
        description="Prediction updates of one symbol, or of all symbols without one."
    )
    async def prediction_updates(
        self, info: Info, symbol: str | None = None
    ) -> AsyncGenerator[PredictionUpdate, None]:
        channel = (
            ALL_PREDICTIONS_CHANNEL
            if symbol is None
            else predictions_channel(normalize_symbol(symbol))
        )
        output = operation_output(info.root_value)
        async for event in predictions_of(info.context.services.bus, channel):
            update = PredictionUpdate.from_domain(event)
            if output is None or not await output.send(update):
                yield update
