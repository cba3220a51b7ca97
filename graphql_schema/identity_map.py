"""A value per object, found by the object's identity, for as long as the object lives.

A WeakKeyDictionary hashes its key at each look-up. graphql-core's AST nodes are frozen
dataclasses whose hash walks the whole tree below them, so keying by an operation's node
walked the operation once per request (and once per subscriber: about 1% of subscribing
10,000 clients, issue 17 point 4). Here a look-up is a dict look-up by `id` and a weak
reference's check that it still points at the same object.
"""

from __future__ import annotations

import weakref
from typing import Generic, TypeVar

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


class WeakIdentityMap(Generic[_Key, _Value]):
    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[_Key], _Value]] = {}

    def get(self, key: _Key) -> _Value | None:
        entry = self._entry(key)
        return None if entry is None else entry[1]

    def __contains__(self, key: _Key) -> bool:
        return self._entry(key) is not None

    def __setitem__(self, key: _Key, value: _Value) -> None:
        identity = id(key)
        reference = weakref.ref(key, lambda dead: self._forget(identity, dead))
        self._entries[identity] = (reference, value)

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, key: _Key) -> tuple[weakref.ref[_Key], _Value] | None:
        entry = self._entries.get(id(key))
        return entry if entry is not None and entry[0]() is key else None

    def _forget(self, identity: int, dead: weakref.ref[_Key]) -> None:
        # Only the dead key's own entry: its id may already belong to a newer key.
        entry = self._entries.get(identity)
        if entry is not None and entry[0] is dead:
            del self._entries[identity]
