"""Account operations: register, login, me, profile, watchlist."""

import strawberry

from graphql_schema.cache_control import CacheControl, CacheControlScope
from graphql_schema.context import Info
from graphql_schema.types.users import (
    AuthPayload,
    LoginInput,
    LoginResult,
    RegisterInput,
    RegisterResult,
    UpdateProfileInput,
    UpdateProfileResult,
    User,
)


@strawberry.type
class UsersQuery:
    @strawberry.field(
        description=(
            "The signed-in user; null without a token. An invalid, expired or revoked token "
            "is an UNAUTHENTICATED error."
        ),
        directives=[CacheControl(max_age=0, scope=CacheControlScope.PRIVATE)],
    )
    async def me(self, info: Info) -> User | None:
        user = await info.context.current_user()
        return None if user is None else User.from_domain(user)


@strawberry.type
class UsersMutation:
    @strawberry.mutation
    async def register(self, info: Info, input: RegisterInput) -> RegisterResult:
        session = await info.context.services.accounts.register(
            name=input.name,
            email=input.email,
            password=input.password,
            client=info.context.client_address,
        )
        return AuthPayload.from_domain(session)

    @strawberry.mutation
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        session = await info.context.services.accounts.login(
            email=input.email, password=input.password, client=info.context.client_address
        )
        return AuthPayload.from_domain(session)

    @strawberry.mutation(description="Requires a signed-in user.")
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfileResult:
        user = await info.context.require_user()
        updated = await info.context.services.accounts.update_profile(
            user,
            name=input.name,
            email=input.email,
            password=input.password,
            current_password=input.current_password,
        )
        return User.from_domain(updated)

    @strawberry.mutation(
        description=(
            "Signs out the token sent with this request: it is refused from now on, on every "
            "replica. The user's other tokens stay valid. Requires a signed-in user."
        )
    )
    async def logout(self, info: Info) -> bool:
        await info.context.require_user()
        await info.context.services.accounts.logout(info.context.token or "")
        return True

    @strawberry.mutation(
        description=(
            "Revokes every token of the signed-in user, this one included (changing the "
            "password does too). Open websockets signed in with them are closed (4401)."
        )
    )
    async def logout_everywhere(self, info: Info) -> bool:
        user = await info.context.require_user()
        await info.context.services.accounts.logout_everywhere(user)
        return True

    @strawberry.mutation(description="Requires a signed-in user.")
    async def add_to_watchlist(self, info: Info, symbol: str) -> User:
        user = await info.context.require_user()
        return User.from_domain(await info.context.services.accounts.add_to_watchlist(user, symbol))

    @strawberry.mutation(description="Requires a signed-in user.")
    async def remove_from_watchlist(self, info: Info, symbol: str) -> User:
        user = await info.context.require_user()
        updated = await info.context.services.accounts.remove_from_watchlist(user, symbol)
        return User.from_domain(updated)
