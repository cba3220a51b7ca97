"""Automatic Persisted Queries (Apollo's protocol, which Apollo Client and urql speak) in front
of the GraphQL endpoint, over POST and GET.

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}` without the
query; an unknown hash is answered PERSISTED_QUERY_NOT_FOUND, the client sends it again with
the query, which is registered once its SHA-256 is checked. From then on the hash alone runs
the document (a short GET URL that HTTP caches can keep). The request passed on to the view
holds the query, so the response cache and the view see an ordinary request.

With trusted documents (STOCKQL_TRUSTED_DOCUMENTS, a manifest of hash -> document) only the
manifest's documents run over HTTP, sent by hash or in full, and nothing is registered.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.request_bodies import replaying, whole_body
from graphql_schema.trusted_documents import NOT_TRUSTED, NOT_TRUSTED_MESSAGE, document_hash

log = logging.getLogger(__name__)

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
MEMORY_DOCUMENTS = 10_000
REDIS_TTL_SECONDS = 7 * 24 * 3600


class PersistedQueryStore(Protocol):
    async def get(self, sha256_hash: str) -> str | None: ...

    async def put(self, sha256_hash: str, query: str) -> None: ...


class MemoryPersistedQueries:
    """The most recently used documents of this process, at most `max_documents`."""

    def __init__(self, max_documents: int = MEMORY_DOCUMENTS) -> None:
        self._max = max_documents
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256_hash: str) -> str | None:
        query = self._documents.get(sha256_hash)
        if query is not None:
            self._documents.move_to_end(sha256_hash)
        return query

    async def put(self, sha256_hash: str, query: str) -> None:
        self._documents[sha256_hash] = query
        self._documents.move_to_end(sha256_hash)
        while len(self._documents) > self._max:
            self._documents.popitem(last=False)


class RedisPersistedQueries:
    """Documents shared by every replica, each kept a week after its last registration. Redis
    failing makes a hash unknown (the client then sends the query), never the request fail."""

    PREFIX = "stockql:apq:"

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def get(self, sha256_hash: str) -> str | None:
        try:
            value = await self._redis.get(self.PREFIX + sha256_hash)
        except RedisError as error:
            log.debug("persisted query read failed: %s", error)
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, sha256_hash: str, query: str) -> None:
        try:
            await self._redis.set(self.PREFIX + sha256_hash, query, ex=REDIS_TTL_SECONDS)
        except RedisError as error:
            log.debug("persisted query write failed: %s", error)


def persisted_query_store(redis: aioredis.Redis | None) -> PersistedQueryStore:
    return RedisPersistedQueries(redis) if redis is not None else MemoryPersistedQueries()


class TrustedDocumentsError(ValueError):
    pass


def load_trusted_documents(path: Path) -> dict[str, str]:
    """A manifest of the documents allowed to run: a JSON object of SHA-256 hex -> document
    (as GraphQL Yoga and Relay write them), or Apollo's persisted query manifest
    (`{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}`).
    Raises TrustedDocumentsError when it cannot be read or a hash does not match."""
    try:
        manifest = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise TrustedDocumentsError(f"cannot read the trusted documents {path}: {error}") from None
    if isinstance(manifest, dict) and manifest.get("format") == "apollo-persisted-query-manifest":
        pairs = [(item.get("id"), item.get("body")) for item in manifest.get("operations", [])]
    elif isinstance(manifest, dict):
        pairs = list(manifest.items())
    else:
        raise TrustedDocumentsError(f"{path}: expected a JSON object")
    documents = {}
    for sha256_hash, query in pairs:
        if not isinstance(sha256_hash, str) or not isinstance(query, str):
            raise TrustedDocumentsError(f"{path}: every entry needs a hash and a document")
        if document_hash(query) != sha256_hash.lower():
            raise TrustedDocumentsError(f"{path}: {sha256_hash} is not the hash of its document")
        documents[sha256_hash.lower()] = query
    return documents


@dataclass(frozen=True, slots=True)
class _Refusal:
    code: str
    message: str
    status: int = 200


class PersistedQueries:
    """The ASGI layer: resolves persisted queries of GraphQL HTTP requests, then passes them
    on with their query; anything else (websockets, GraphiQL) passes untouched."""

    def __init__(self, app: ASGIApp, *, trusted: Mapping[str, str] | None = None) -> None:
        self._app = app
        self._trusted = trusted
        # Set once the runtime is open (app/main.py's lifespan), in Redis when there is one.
        self.store: PersistedQueryStore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self._app(scope, receive, send)
            return
        if scope["method"] == "GET":
            await self._get(scope, receive, send)
        else:
            await self._post(scope, receive, send)

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        if "query" not in params and "extensions" not in params:
            await self._app(scope, receive, send)  # GraphiQL, or the view's own error
            return
        try:
            extensions = orjson.loads(params["extensions"]) if "extensions" in params else None
        except orjson.JSONDecodeError:
            extensions = None
        resolved = await self._resolve(params.get("query"), extensions)
        if isinstance(resolved, _Refusal):
            await _send_refusal(send, resolved)
            return
        if resolved is not None and resolved != params.get("query"):
            params["query"] = resolved
            scope = {**scope, "query_string": urlencode(params).encode()}
        await self._app(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, disconnected = await whole_body(receive)
        if disconnected:
            return
        try:
            request: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            request = None
        if isinstance(request, dict):
            query = request.get("query")
            resolved = await self._resolve(
                query if isinstance(query, str) else None, request.get("extensions")
            )
            if isinstance(resolved, _Refusal):
                await _send_refusal(send, resolved)
                return
            if resolved is not None and resolved != query:
                body = orjson.dumps({**request, "query": resolved})
        elif self._trusted is not None:
            await _send_refusal(send, _not_trusted())
            return
        await self._app(scope, replaying(body, receive), send)

    async def _resolve(self, query: str | None, extensions: object) -> str | _Refusal | None:
        """The query to run (None: the request has none, the view says so), or a refusal."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if self._trusted is not None and (
                query is None or document_hash(query) not in self._trusted
            ):
                return _not_trusted()
            return query
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            return _Refusal(BAD_USER_INPUT, "Unsupported persistedQuery version", 400)
        sha256_hash = persisted.get("sha256Hash")
        if not isinstance(sha256_hash, str) or len(sha256_hash) != 64:
            return _Refusal(BAD_USER_INPUT, "persistedQuery.sha256Hash must be 64 hex digits", 400)
        sha256_hash = sha256_hash.lower()
        if query is not None:
            if document_hash(query) != sha256_hash:
                return _Refusal(BAD_USER_INPUT, "provided sha does not match query", 400)
            if self._trusted is not None:
                return query if sha256_hash in self._trusted else _not_trusted()
            if self.store is not None:
                await self.store.put(sha256_hash, query)
            return query
        if self._trusted is not None:
            return self._trusted.get(sha256_hash) or _not_trusted()
        stored = await self.store.get(sha256_hash) if self.store is not None else None
        return stored if stored is not None else _Refusal(NOT_FOUND, "PersistedQueryNotFound")


def _not_trusted() -> _Refusal:
    return _Refusal(NOT_TRUSTED, NOT_TRUSTED_MESSAGE, 400)


async def _send_refusal(send: Send, refusal: _Refusal) -> None:
    body = orjson.dumps(
        {"errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}]}
    )
    # As Apollo Server does: a not-found hash must not be cached, or the retry would get it.
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"private, no-cache, must-revalidate"),
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
