"""An in-memory stand-in for pymongo's AsyncCollection, built on mongomock.

This is a stand-in, not MongoDB: no MongoDB server can run on these machines. The user store
contract suite (tests/integration/test_user_store_contract.py) runs MongoUserStore against it
always, and against a real server as well when STOCKQL_TEST_MONGODB_URL is set; only that run
shows what the server itself does.

It exposes exactly the async methods MongoUserStore uses, each delegating to mongomock.
mongomock enforces unique indexes and supports every operator the store uses ($ne, $exists on
an array position, $push, $pull, $set, find_one_and_update returning the document after), and
like a server it keeps datetimes in UTC to the millisecond. Its DuplicateKeyError does not say
which index collided (no `details`), so a duplicate `_id` is indistinguishable from a taken email
here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import mongomock
from pymongo.results import DeleteResult


class MongoStandIn:
    """The `users` collection of a private in-memory mongomock client (tz_aware like the app's).

    Each call first yields to the event loop, so concurrent callers interleave between calls as
    they would with a server; the call itself then runs to completion, as one single-document
    operation is atomic on a server.
    """

    def __init__(self) -> None:
        # Any: mongomock's stubs declare its classes to be pymongo's, which they are not.
        self._collection: Any = mongomock.MongoClient(tz_aware=True).db.users

    async def insert_one(self, document: dict[str, Any]) -> object:
        await asyncio.sleep(0)
        return self._collection.insert_one(document)

    async def find_one(self, filter: Mapping[str, Any]) -> Mapping[str, Any] | None:
        await asyncio.sleep(0)
        found: Mapping[str, Any] | None = self._collection.find_one(filter)
        return found

    async def find_one_and_update(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], *, return_document: bool
    ) -> Mapping[str, Any] | None:
        await asyncio.sleep(0)
        found: Mapping[str, Any] | None = self._collection.find_one_and_update(
            filter, update, return_document=return_document
        )
        return found

    async def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        await asyncio.sleep(0)
        result: DeleteResult = self._collection.delete_one(filter)
        return result

    async def create_index(self, keys: str, *, unique: bool) -> str:
        await asyncio.sleep(0)
        name: str = self._collection.create_index(keys, unique=unique)
        return name
