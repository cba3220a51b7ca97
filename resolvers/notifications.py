"""Notification operations: the signed-in user's notifications and marking them read."""

import strawberry

from graphql_schema.cache_control import CacheControl, CacheControlScope
from graphql_schema.context import Info
from graphql_schema.types.notifications import Notification


@strawberry.type
class NotificationsQuery:
    @strawberry.field(
        description="Requires a signed-in user. Newest first; limit is 1 to 200.",
        directives=[CacheControl(max_age=0, scope=CacheControlScope.PRIVATE)],
    )
    async def notifications(
        self, info: Info, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        user = await info.context.require_user()
        found = await info.context.services.notifications.recent(
            user.id, unread_only=unread_only, limit=limit
        )
        return [Notification.from_domain(notification) for notification in found]


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(
        description="Marks the given notifications read, or all of them when ids is null; "
        "returns how many changed. Requires a signed-in user."
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None
    ) -> int:
        user = await info.context.require_user()
        keys = None if ids is None else [str(each) for each in ids]
        return await info.context.services.notifications.mark_read(user.id, keys)
