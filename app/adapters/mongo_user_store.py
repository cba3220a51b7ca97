"""UserStore on MongoDB through PyMongo's async API: one document per user, `_id` = user id.

Documents: `_id`, name, email, email_key, role, password_hash, created_at, watchlist (array,
in the order symbols were added), token_generation, updated_at. A unique index on email_key
(ensure_indexes) decides who owns an email. Timestamps keep millisecond precision (BSON dates).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

from domain.users import (
    MAX_WATCHLIST,
    EmailTaken,
    Role,
    User,
    WatchlistFull,
    changed_fields,
    email_key,
)

COLLECTION = "users"
# Fail start-up within seconds when the server is unreachable, not after PyMongo's 30 s default.
SERVER_SELECTION_TIMEOUT_MS = 5_000

# Matches a watchlist that has an element at the last allowed position, that is, a full one.
_FULL_WATCHLIST = f"watchlist.{MAX_WATCHLIST - 1}"

Document = Mapping[str, Any]


class _DeleteResult(Protocol):
    @property
    def deleted_count(self) -> int: ...


class UserCollection(Protocol):
    """The methods of pymongo's AsyncCollection that MongoUserStore uses, so tests can pass a
    stand-in."""

    async def insert_one(self, document: dict[str, Any]) -> object: ...

    async def find_one(self, filter: Document) -> Document | None: ...

    async def find_one_and_update(
        self, filter: Document, update: Document, *, return_document: bool
    ) -> Document | None: ...

    async def delete_one(self, filter: Document) -> _DeleteResult: ...

    async def create_index(self, keys: str, *, unique: bool) -> str: ...


@asynccontextmanager
async def open_mongo_user_store(
    url: str, *, database: str = "stockql"
) -> AsyncIterator[MongoUserStore]:
    """Connect to MongoDB at `url`, make sure the indexes exist, and close the client on exit.

    Raises pymongo.errors.ServerSelectionTimeoutError when no server answers within
    SERVER_SELECTION_TIMEOUT_MS.
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
    )
    try:
        collection = client[database][COLLECTION]
        await ensure_indexes(collection)
        yield MongoUserStore(collection)
    finally:
        await client.close()


async def ensure_indexes(collection: UserCollection) -> None:
    """Create the unique index on email_key (a no-op when it exists)."""
    await collection.create_index("email_key", unique=True)


class MongoUserStore:
    """domain.users.UserStore on a MongoDB collection that has ensure_indexes' indexes."""

    def __init__(self, collection: UserCollection) -> None:
        self._users = collection

    async def create(self, user: User) -> None:
        """Insert `user`. Raises EmailTaken when its email_key exists.

        The unique index decides, so of two creations that race exactly one succeeds.
        """
        try:
            await self._users.insert_one(_document(user) | {"updated_at": datetime.now(UTC)})
        except DuplicateKeyError as error:
            if _duplicates_email_key(error):
                raise EmailTaken from error
            raise

    async def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        return _user_or_none(await self._users.find_one({"_id": user_id}))

    async def find_by_email(self, email: str) -> User | None:
        """The user whose email_key equals email_key(email), or None."""
        return _user_or_none(await self._users.find_one({"email_key": email_key(email)}))

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
        try:
            document = await self._users.find_one_and_update(
                {"_id": user_id},
                {"$set": values | {"updated_at": datetime.now(UTC)}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as error:
            # Only email_key can collide: an update never changes _id.
            raise EmailTaken from error
        return _user_or_none(document)

    async def revoke_tokens(self, user_id: str) -> User | None:
        """Raise the token generation by one ($inc is atomic); the updated user or None."""
        document = await self._users.find_one_and_update(
            {"_id": user_id},
            {"$inc": {"token_generation": 1}, "$set": {"updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        return _user_or_none(document)

    async def add_to_watchlist(self, user_id: str, symbol: str) -> User | None:
        """Append `symbol` unless present; returns the updated user, or None when there is none.

        Raises WatchlistFull (changing nothing) when the list already holds MAX_WATCHLIST.
        """
        while True:
            # One conditional update: the server checks "absent" and "not full" and pushes
            # atomically, so concurrent adds can never grow the list past MAX_WATCHLIST.
            document = await self._users.find_one_and_update(
                {"_id": user_id, "watchlist": {"$ne": symbol}, _FULL_WATCHLIST: {"$exists": False}},
                {"$push": {"watchlist": symbol}, "$set": {"updated_at": datetime.now(UTC)}},
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                return _user(document)
            # Nothing matched: read the user to tell the reasons apart.
            current = await self._users.find_one({"_id": user_id})
            if current is None:
                return None
            if symbol in current["watchlist"]:
                return _user(current)
            if len(current["watchlist"]) >= MAX_WATCHLIST:
                raise WatchlistFull(f"a watchlist holds at most {MAX_WATCHLIST} symbols")
            # Another request removed a symbol between the update and the read: try again.

    async def remove_from_watchlist(self, user_id: str, symbol: str) -> User | None:
        """Remove `symbol` if present; returns the updated user, or None when there is none."""
        document = await self._users.find_one_and_update(
            # Matching only lists that hold the symbol leaves updated_at alone otherwise.
            {"_id": user_id, "watchlist": symbol},
            {"$pull": {"watchlist": symbol}, "$set": {"updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        return _user(document) if document is not None else await self.get(user_id)

    async def delete(self, user_id: str) -> bool:
        """Remove the user; True when it existed."""
        result = await self._users.delete_one({"_id": user_id})
        return result.deleted_count == 1


def _duplicates_email_key(error: DuplicateKeyError) -> bool:
    # Servers name the index keys that collided. Without that (stand-ins), the only other
    # unique key is _id, and ids are random.
    key_pattern = (error.details or {}).get("keyPattern")
    return key_pattern is None or "email_key" in key_pattern


# Documents <-> users: the only two places that know the document layout.


def _document(user: User) -> dict[str, Any]:
    return {
        "_id": user.id,
        "name": user.name,
        "email": user.email,
        "email_key": email_key(user.email),
        "role": user.role.value,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "watchlist": list(user.watchlist),
        "token_generation": user.token_generation,
    }


def _user(document: Document) -> User:
    created_at: datetime = document["created_at"]
    return User(
        id=document["_id"],
        name=document["name"],
        email=document["email"],
        role=Role(document["role"]),
        password_hash=document["password_hash"],
        # A client opened without tz_aware=True returns naive UTC; either way hand out UTC.
        created_at=(
            created_at.replace(tzinfo=UTC)
            if created_at.tzinfo is None
            else created_at.astimezone(UTC)
        ),
        watchlist=tuple(document["watchlist"]),
        # Documents written before token generations existed have none: generation 0.
        token_generation=int(document.get("token_generation", 0)),
    )


def _user_or_none(document: Document | None) -> User | None:
    return None if document is None else _user(document)
