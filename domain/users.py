"""User accounts: the User value, roles, and the UserStore port (SQL or MongoDB)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_WATCHLIST = 100


class Role(enum.Enum):
    USER = "USER"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class User:
    """An account. `email` is kept as entered (normalised by email-validator); uniqueness is
    case-insensitive through `email_key`. `password_hash` never leaves the server."""

    id: str
    name: str
    email: str
    role: Role
    password_hash: str
    created_at: datetime
    watchlist: tuple[str, ...] = ()
    # Tokens carry the generation they were issued in; raising it revokes all of them.
    token_generation: int = 0

    def __repr__(self) -> str:
        # Keep the hash out of logs and tracebacks that print the object.
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role.name})"


def email_key(email: str) -> str:
    """The case-insensitive identity of an email address, as stores index it."""
    return email.strip().casefold()


def changed_fields(
    *, name: str | None = None, email: str | None = None, password_hash: str | None = None
) -> dict[str, str]:
    """The stored fields an update sets (None leaves a field alone); a new email also sets
    its email_key."""
    values: dict[str, str] = {}
    if name is not None:
        values["name"] = name
    if email is not None:
        values |= {"email": email, "email_key": email_key(email)}
    if password_hash is not None:
        values["password_hash"] = password_hash
    return values


class EmailTaken(Exception):
    """Another user already has this email (compared with email_key)."""


class WatchlistFull(Exception):
    """The watchlist already holds MAX_WATCHLIST symbols."""


class UserStore(Protocol):
    """Where accounts live. Every method is atomic on its own; ids are made by the caller."""

    async def create(self, user: User) -> None:
        """Insert a new user. Raises EmailTaken when email_key(user.email) exists, also when
        two creations race (the store's unique index decides)."""
        ...

    async def get(self, user_id: str) -> User | None: ...

    async def find_by_email(self, email: str) -> User | None:
        """The user whose email_key equals email_key(email)."""
        ...

    async def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User | None:
        """Change the given fields (None leaves a field alone); returns the updated user, or
        None when there is no such user. Raises EmailTaken."""
        ...

    async def add_to_watchlist(self, user_id: str, symbol: str) -> User | None:
        """Append `symbol` unless already present; returns the updated user or None.
        Raises WatchlistFull when it would grow past MAX_WATCHLIST (checked atomically)."""
        ...

    async def remove_from_watchlist(self, user_id: str, symbol: str) -> User | None:
        """Remove `symbol` if present; returns the updated user or None."""
        ...

    async def revoke_tokens(self, user_id: str) -> User | None:
        """Raise the user's token generation by one (atomically), so that every token issued
        before is refused; returns the updated user, or None when there is none."""
        ...

    async def delete(self, user_id: str) -> bool:
        """Remove the user; True when it existed."""
        ...
