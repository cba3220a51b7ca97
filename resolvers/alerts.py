"""Alert operations: createAlert and deleteAlert (the list is User.alerts)."""

import strawberry

from graphql_schema.context import Info
from graphql_schema.types.alerts import Alert, CreateAlertInput, CreateAlertResult


@strawberry.type
class AlertsMutation:
    @strawberry.mutation(description="Requires a signed-in user.")
    async def create_alert(self, info: Info, input: CreateAlertInput) -> CreateAlertResult:
        user = await info.context.require_user()
        alert = await info.context.services.alerts.create(
            user.id,
            symbol=input.symbol,
            condition=input.condition,
            threshold=input.threshold,
            frequency=input.frequency,
            expires_at=input.expires_at,
        )
        return Alert.from_domain(alert)

    @strawberry.mutation(
        description="Requires a signed-in user. False when the id is not one of your alerts."
    )
    async def delete_alert(self, info: Info, id: strawberry.ID) -> bool:
        user = await info.context.require_user()
        return await info.context.services.alerts.delete(user.id, str(id))
