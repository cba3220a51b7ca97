"""The response cache in front of POST /graphql: a repeated cacheable query is answered with
the stored bytes, without parsing, validating or executing it again (Apollo Server's
responseCachePlugin and GraphQL Yoga's useResponseCache do the same).

What may be cached, for how long and with whom comes from the fields' `@cacheControl` hints
(graphql_schema/cache_control.py). Only PUBLIC results without errors are stored, keyed by
the exact request body (document, operation name and variables) and its Accept header; a
result touching the signed-in user is PRIVATE and always goes to the resolvers. Every
response says so in `Cache-Control`. New prices invalidate the results that read the
symbol (app/response_invalidation.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import DocumentNode, GraphQLError, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.adapters.response_stores import ResponseStore
from app.graphql_metrics import OperationCounter
from app.request_bodies import replaying, whole_body
from graphql_schema.cache_control import (
    MAX_AGE_SCOPE_KEY,
    NOT_CACHEABLE,
    CacheControl,
    CachePolicy,
    cache_policy,
    selected_operation,
)

log = logging.getLogger(__name__)

PARSED_DOCUMENTS = 512
# A hit says so, as GraphQL Yoga's response cache does: fields such as history's `cached`
# describe how the stored result was computed, not that it was replayed.
RESPONSE_CACHE_EXTENSION = "responseCache"
HIT_MARK = b'"' + RESPONSE_CACHE_EXTENSION.encode() + b'":{"hit":true}}}'


class CachingGraphQLEndpoint:
    """Wraps the GraphQL view (an ASGI app): queries POSTed or sent over GET go through the
    cache, anything else (GraphiQL, websockets) straight to the view."""

    def __init__(
        self,
        view: ASGIApp,
        *,
        hints: Mapping[str, CacheControl],
        max_tokens: int,
        operations: OperationCounter,
    ) -> None:
        self._view = view
        # Set once the runtime is open (app/main.py's lifespan); until then nothing is cached.
        self.store: ResponseStore | None = None
        self._hints = hints
        self._operations = operations
        self._metrics = operations.metrics
        self._document = lru_cache(maxsize=PARSED_DOCUMENTS)(
            lambda query: _parsed(query, max_tokens)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        store = self.store
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST") or store is None:
            await self._view(scope, receive, send)
            return
        if scope["method"] == "POST":
            body, disconnected = await whole_body(receive)
            if disconnected:
                return
            replay = replaying(body, receive)
            request = _json_object(body)
        else:
            body, replay = b"GET?" + scope["query_string"], receive
            request = _query_parameters(scope["query_string"])
            if request is None:  # GraphiQL, or the view's own error
                await self._view(scope, receive, send)
                return
        policy, operation_name = self._policy(request)
        if not policy.shared:
            self._metrics.count_response_cache("bypass")
            await self._view(scope, replay, _with_cache_control(send, policy))
            return
        key = _key(scope, body)
        started = time.perf_counter()
        hit = await store.get(key)
        if hit is not None:
            self._metrics.count_response_cache("hit")
            cache_control = f"public, max-age={hit.max_age}"
            await _send_cached(send, hit.body, cache_control, if_none_match(scope))
            self._operations.count(operation_name, "query", time.perf_counter() - started)
            return
        self._metrics.count_response_cache("miss")
        seen = await store.generations(policy.symbols)
        response = _BufferedResponse(send, policy, scope)
        await self._view(scope, replay, response.send)
        if response.cacheable_body is not None and await store.put(
            key, response.cacheable_body, max_age=response.max_age, symbols=seen
        ):
            self._metrics.count_response_cache("stored")

    def _policy(self, request: dict[str, Any] | None) -> tuple[CachePolicy, str | None]:
        """The request's cache policy and its operation's name (for the metrics)."""
        if request is None:
            return NOT_CACHEABLE, None  # the view answers it with its own error
        query, name, variables = (request.get(k) for k in ("query", "operationName", "variables"))
        if not isinstance(query, str) or not isinstance(name, str | None):
            return NOT_CACHEABLE, None
        if variables is not None and not isinstance(variables, dict):
            return NOT_CACHEABLE, None
        document = self._document(query)
        if document is None:
            return NOT_CACHEABLE, None
        operation = selected_operation(document, name)
        if operation is None:
            return NOT_CACHEABLE, None
        operation_name = operation.name.value if operation.name else None
        return cache_policy(document, name, variables, self._hints), operation_name


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return request if isinstance(request, dict) else None


def _query_parameters(query_string: bytes) -> dict[str, Any] | None:
    """A GET request's query, operationName and variables (JSON); None without a query."""
    params: dict[str, Any] = dict(parse_qsl(query_string.decode("latin-1")))
    if "query" not in params:
        return None
    if "variables" in params:
        try:
            params["variables"] = orjson.loads(params["variables"]) if params["variables"] else None
        except orjson.JSONDecodeError:
            return {}  # not cacheable: the view answers it with its own error
    return params


def etag_of(replayable: bytes) -> bytes:
    """The same stored result gives the same tag, whether it was executed or replayed."""
    return b'"' + hashlib.sha256(replayable).hexdigest()[:32].encode() + b'"'


def if_none_match(scope: Scope) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == b"if-none-match"), None)


def _parsed(query: str, max_tokens: int) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None


def _key(scope: Scope, body: bytes) -> str:
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
    return hashlib.sha256(accept + b"\n" + body).hexdigest()


def _with_cache_control(send: Send, policy: CachePolicy) -> Send:
    header = policy.cache_control_header().encode()

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": _replaced_header(message, header)}
        await send(message)

    return sending


def _replaced_header(message: Mapping[str, Any], value: bytes) -> list[tuple[bytes, bytes]]:
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
    headers.append((b"cache-control", value))
    return headers


async def _send_cached(
    send: Send, replayable: bytes, cache_control: str, client_tag: bytes | None
) -> None:
    """A stored result, or 304 when the client holds it already (If-None-Match)."""
    tag = etag_of(replayable)
    headers = [(b"cache-control", cache_control.encode()), (b"etag", tag)]
    if _not_modified(client_tag, tag):
        await _send_not_modified(send, headers)
        return
    body = replayable + HIT_MARK
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _not_modified(client_tag: bytes | None, tag: bytes) -> bool:
    if client_tag is None:
        return False
    return tag in {held.strip().removeprefix(b"W/") for held in client_tag.split(b",")}


async def _send_not_modified(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": 304, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class _BufferedResponse:
    """Holds the view's response until its body is complete, so that Cache-Control can say
    whether it is shared: only a 200 without errors is, and is then offered to the store for
    its policy's max age, or less when a resolver lowered it (lower_max_age)."""

    def __init__(self, send: Send, policy: CachePolicy, scope: Scope) -> None:
        self._send = send
        self._policy = policy
        self._scope = scope
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self.cacheable_body: bytes | None = None
        self.max_age = policy.max_age

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self._chunks)
        # The resolvers have run: a lower max age they set is in the scope now.
        self.max_age = min(self.max_age, self._scope.get(MAX_AGE_SCOPE_KEY, self.max_age))
        policy = replace(self._policy, max_age=self.max_age)
        shared = self._start["status"] == 200 and policy.shared
        replayable = _replayable(body) if shared else None
        self.cacheable_body = replayable
        if replayable is None:
            headers = _replaced_header(self._start, b"no-store")
            await self._send({**self._start, "headers": headers})
            await self._send({"type": "http.response.body", "body": body, "more_body": False})
            return
        cache_control = policy.cache_control_header()
        tag = etag_of(replayable)
        if _not_modified(if_none_match(self._scope), tag):
            headers = [(b"cache-control", cache_control.encode()), (b"etag", tag)]
            await _send_not_modified(self._send, headers)
            return
        headers = [*_replaced_header(self._start, cache_control.encode()), (b"etag", tag)]
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


def _replayable(body: bytes) -> bytes | None:
    """A result without errors laid out for `HIT_MARK`: its extensions last and left open, so
    that a hit adds `extensions.responseCache` with one concatenation. None for others."""
    try:
        result = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(result, dict) or "errors" in result or "data" not in result:
        return None
    extensions = result.pop("extensions", None) or {}
    if not isinstance(extensions, dict):
        return None
    extensions.pop(RESPONSE_CACHE_EXTENSION, None)
    laid_out = orjson.dumps({**result, "extensions": extensions})
    return laid_out[:-2] + (b"," if extensions else b"")
