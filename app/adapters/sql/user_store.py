"""UserStore on SQL: the users table, whose unique email_key decides who owns an email."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, Table, UniqueConstraint, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sql.database import one_statement
from app.adapters.sql.tables import UserRow
from domain.users import (
    MAX_WATCHLIST,
    EmailTaken,
    Role,
    User,
    WatchlistFull,
    changed_fields,
    email_key,
)

# SQLModel does not declare __table__ to type checkers.
USERS: Table = UserRow.__table__  # type: ignore[attr-defined]

# Named by tables.NAMING_CONVENTION; PostgreSQL reports this name when an email is taken.
EMAIL_KEY_UNIQUE = next(
    str(constraint.name)
    for constraint in USERS.constraints
    if isinstance(constraint, UniqueConstraint) and constraint.columns.keys() == ["email_key"]
)
# SQLite reports no constraint name, only the columns.
_SQLITE_EMAIL_KEY_VIOLATION = "UNIQUE constraint failed: users.email_key"

# A watchlist change: the new list, or None when there is nothing to change.
_WatchlistChange = Callable[[list[str]], list[str] | None]


class SqlUserStore:
    """domain.users.UserStore on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, user: User) -> None:
        """Insert `user`. Raises EmailTaken when its email_key exists.

        The unique constraint decides, so of two creations that race exactly one succeeds.
        Other integrity errors (an id used twice) are raised as they are.
        """
        row = _row(user) | {"updated_at": datetime.now(UTC)}
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(USERS).values(row))
        except IntegrityError as error:
            if _violates_email_key(error):
                raise EmailTaken from error
            raise

    async def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        return await self._first(select(USERS).where(USERS.c.id == user_id))

    async def find_by_email(self, email: str) -> User | None:
        """The user whose email_key equals email_key(email), or None."""
        return await self._first(select(USERS).where(USERS.c.email_key == email_key(email)))

    async def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User | None:
        """Change the given fields; returns the updated user, or None when there is none.

        A new email also changes email_key; raises EmailTaken (changing nothing) when another
        user has that key.
        """
        values: dict[str, Any] = changed_fields(name=name, email=email, password_hash=password_hash)
        if not values:
            return await self.get(user_id)
        statement = (
            update(USERS)
            .where(USERS.c.id == user_id)
            .values(values | {"updated_at": datetime.now(UTC)})
            .returning(*USERS.c)
        )
        try:
            async with self._engine.begin() as connection:
                row = (await connection.execute(statement)).first()
        except IntegrityError as error:
            if _violates_email_key(error):
                raise EmailTaken from error
            raise
        return None if row is None else _user(row)

    async def revoke_tokens(self, user_id: str) -> User | None:
        """Raise the token generation by one in a single statement (concurrent calls each
        count); returns the updated user, or None when there is none."""
        statement = (
            update(USERS)
            .where(USERS.c.id == user_id)
            .values(token_generation=USERS.c.token_generation + 1, updated_at=datetime.now(UTC))
            .returning(*USERS.c)
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _user(row)

    async def add_to_watchlist(self, user_id: str, symbol: str) -> User | None:
        """Append `symbol` unless present; returns the updated user, or None when there is none.

        Raises WatchlistFull (changing nothing) when the list already holds MAX_WATCHLIST.
        """

        def add(watchlist: list[str]) -> list[str] | None:
            if symbol in watchlist:
                return None
            if len(watchlist) >= MAX_WATCHLIST:
                raise WatchlistFull(f"a watchlist holds at most {MAX_WATCHLIST} symbols")
            return [*watchlist, symbol]

        return await self._change_watchlist(user_id, add)

    async def remove_from_watchlist(self, user_id: str, symbol: str) -> User | None:
        """Remove `symbol` if present; returns the updated user, or None when there is none."""

        def remove(watchlist: list[str]) -> list[str] | None:
            return [s for s in watchlist if s != symbol] if symbol in watchlist else None

        return await self._change_watchlist(user_id, remove)

    async def delete(self, user_id: str) -> bool:
        """Remove the user; True when it existed."""
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(USERS).where(USERS.c.id == user_id))
        return result.rowcount == 1

    async def _first(self, query: Select[Any]) -> User | None:
        async with one_statement(self._engine) as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _user(row)

    async def _change_watchlist(self, user_id: str, change: _WatchlistChange) -> User | None:
        where = USERS.c.id == user_id
        async with self._engine.begin() as connection:
            # Read the row through a write that changes nothing: concurrent changes of one list
            # then take turns, and each sees the list the previous one committed. PostgreSQL
            # holds the row lock until commit (as SELECT ... FOR UPDATE would); SQLite has no
            # row locks and no FOR UPDATE, but takes its one writer lock at this first write.
            locked = update(USERS).where(where).values(id=USERS.c.id).returning(*USERS.c)
            row = (await connection.execute(locked)).first()
            if row is None:
                return None
            # Raising here (WatchlistFull) rolls the transaction back.
            watchlist = change(list(row.watchlist))
            if watchlist is None:
                return _user(row)
            changed = (
                update(USERS)
                .where(where)
                .values(watchlist=watchlist, updated_at=datetime.now(UTC))
                .returning(*USERS.c)
            )
            return _user((await connection.execute(changed)).one())


def _violates_email_key(error: IntegrityError) -> bool:
    # asyncpg's own exception, kept as the cause, names the constraint.
    constraint = getattr(error.orig.__cause__, "constraint_name", None) if error.orig else None
    if constraint is not None:
        return bool(constraint == EMAIL_KEY_UNIQUE)
    return _SQLITE_EMAIL_KEY_VIOLATION in str(error.orig)


# Rows <-> users: the only two places that know the column layout.


def _row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "email_key": email_key(user.email),
        "role": user.role.value,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "watchlist": list(user.watchlist),
        "token_generation": user.token_generation,
    }


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        role=Role(row.role),
        password_hash=row.password_hash,
        created_at=row.created_at,
        watchlist=tuple(row.watchlist),
        token_generation=row.token_generation,
    )
