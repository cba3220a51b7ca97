"""GraphQL types of accounts: User, AuthPayload, inputs and result unions."""

from datetime import datetime
from typing import Annotated

import strawberry

from domain import accounts
from domain import users as domain
from graphql_schema.context import Info
from graphql_schema.types.alerts import Alert
from graphql_schema.types.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    RateLimitedError,
    ValidationError,
)

Role = domain.Role
strawberry.enum(Role, name="Role")


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str
    role: Role
    created_at: datetime
    watchlist: list[str]

    @strawberry.field(description="Your alerts, active or not, oldest first.")
    async def alerts(self, info: Info) -> list[Alert]:
        # User objects are only ever made for their own signed-in user (me, login, ...).
        found = await info.context.services.alerts.alerts_of(str(self.id))
        return [Alert.from_domain(alert) for alert in found]

    @classmethod
    def from_domain(cls, user: domain.User) -> "User":
        return cls(
            id=strawberry.ID(user.id),
            name=user.name,
            email=user.email,
            role=user.role,
            created_at=user.created_at,
            watchlist=list(user.watchlist),
        )


@strawberry.type
class AuthPayload:
    token: str
    expires_at: datetime
    user: User

    @classmethod
    def from_domain(cls, session: accounts.Session) -> "AuthPayload":
        return cls(
            token=session.token,
            expires_at=session.expires_at,
            user=User.from_domain(session.user),
        )


@strawberry.input
class RegisterInput:
    name: str
    email: str
    password: str


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input(
    description="Only the given fields change. Changing email or password requires currentPassword."
)
class UpdateProfileInput:
    name: str | None = None
    email: str | None = None
    password: str | None = None
    current_password: str | None = None


RegisterResult = Annotated[
    AuthPayload | EmailTakenError | ValidationError | RateLimitedError,
    strawberry.union("RegisterResult"),
]
LoginResult = Annotated[
    AuthPayload | InvalidCredentialsError | ValidationError | RateLimitedError,
    strawberry.union("LoginResult"),
]
UpdateProfileResult = Annotated[
    User | EmailTakenError | InvalidCredentialsError | ValidationError,
    strawberry.union("UpdateProfileResult"),
]
