"""Everything StockQL borrows from its libraries beyond their documented API, checked against
the installed versions: private names, internal module paths, the signatures of the methods
it overrides or calls with internal arguments, and the attributes it reads or writes on
library objects (checked on real instances).

Each row names the library (as pyproject.toml declares it), what is borrowed, why, and which
of our modules depend on it: after an upgrade a failing row says what to fix. pyproject.toml
bounds these libraries at the next version nobody checked; the README's Development section
says how to move a bound.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import logging
import re
import textwrap
import tomllib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
import uvicorn
import websockets
from graphql import FieldNode, GraphQLObjectType, GraphQLSchema, is_leaf_type, parse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from typer.core import TyperGroup, TyperOption
from typer.main import get_command

from app.adapters.events.backend import EventBackend
from app.adapters.events.memory_backend import MemoryBackend
from app.adapters.events.redis_backend import RedisBackend
from app.adapters.sql.outage import OutageReportingPool
from app.adapters.sql.tables import UtcDateTime
from app.cli import cli
from app.graphql_metrics import GraphQLMetrics
from app.graphql_view import GraphQLView, TextFrameWebSocketAdapter
from app.lean_asyncio import LeanEvent, LeanQueue
from app.logs import access_log_fields, wire_lines
from app.shutdown import GracefulServer, OpenWebSockets
from app.web import HashedAssets
from app.websocket_handlers import LegacyWSHandler, TransportWSHandler
from app.websocket_protocol import SEND_TEXT_NOW, StockQLWebSocketProtocol
from domain.signals import _sklearn
from domain.signals.artifact import TRUSTED_TYPES
from graphql_schema.context import Context
from graphql_schema.execution import StockQLExecutionContext
from graphql_schema.fanout.execution import SharedEventExecution
from graphql_schema.parsed_documents import RememberParsedDocuments
from graphql_schema.schema import StockQLSchema, build_schema
from graphql_schema.subfield_memo import FreshSubfieldMemoPerEvent
from tests.support.server import free_port

EXECUTION = "graphql_schema/execution.py"
FANOUT_EXECUTION = "graphql_schema/fanout/execution.py"
SUBFIELD_MEMO = "graphql_schema/subfield_memo.py"
LIST_COMPLETION = "graphql_schema/list_completion.py"
SCHEMA = "graphql_schema/schema.py"
VIEW = "app/graphql_view.py"
HANDLERS = "app/websocket_handlers.py"
DIRECT = "graphql_schema/fanout/direct.py"
DIRECT_OPERATIONS = "app/direct_operations.py"
PROTOCOL = "app/websocket_protocol.py"
SHUTDOWN = "app/shutdown.py"
BROADCAST = "app/adapters/events/broadcast.py"
REDIS_BACKEND = "app/adapters/events/redis_backend.py"
SKLEARN = "domain/signals/_sklearn.py"


@dataclass(frozen=True)
class Borrowed:
    """`name` ("module" or "module:Qualified.name") of `library`, borrowed by `used_by` for
    `why`. `signature` is the exact parameter list (names, kinds, defaults; no annotations)
    the code relies on, for what it overrides or calls with positional arguments; `keywords`
    the arguments it passes by name, for what it only calls."""

    library: str
    name: str
    why: str
    used_by: str
    signature: str | None = None
    keywords: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


def depends(library: str, borrowed: str, used_by: str, why: str) -> str:
    """The failure message of a row: what changed and where the code must follow."""
    return (
        f"{library} changed {borrowed}, which {used_by} relies on ({why}); "
        f"fix {used_by} for the new version, or keep the bound in pyproject.toml"
    )


# --- Names, internal module paths and signatures --------------------------------------------

_GRAPHQL_EXECUTOR = "strawberry.schema.schema:StrawberryGraphQLCoreExecutionContext"

NAMES = [
    # graphql-core: the executor the fast path subclasses (through strawberry's).
    Borrowed("graphql-core", "graphql.execution:Executor", "per-event executor type", EXECUTION),
    Borrowed(
        "graphql-core",
        "graphql.execution.collect_fields:CollectedFields",
        "fields of plain objects read from collect_subfields",
        LIST_COMPLETION,
    ),
    Borrowed(
        "graphql-core",
        "graphql.execution.collect_fields:FieldDetailsList",
        "complete_list_value's field details",
        EXECUTION,
    ),
    Borrowed(
        "graphql-core",
        "graphql.execution.incremental.incremental_executor:DeliveryGroupMap",
        "complete_list_value's position context",
        EXECUTION,
    ),
    Borrowed(
        "graphql-core",
        "graphql.execution.types:ExperimentalIncrementalExecutionResults",
        "execute_operation's incremental result",
        EXECUTION,
    ),
    Borrowed("graphql-core", "graphql.pyutils:AwaitableOrValue", "return types", EXECUTION),
    Borrowed("graphql-core", "graphql.pyutils:Path", "complete_list_value's path", EXECUTION),
    Borrowed(
        "graphql-core", "graphql.pyutils:Undefined", "a coercion that failed", LIST_COMPLETION
    ),
    Borrowed(
        "graphql-core",
        f"{_GRAPHQL_EXECUTOR}.build_per_event_executor",
        "a memo of its own per subscription event, shared results marked",
        f"{SUBFIELD_MEMO}, {FANOUT_EXECUTION}",
        signature="(self, payload)",
    ),
    Borrowed(
        "graphql-core",
        f"{_GRAPHQL_EXECUTOR}.execute_operation",
        "one execution per event for all subscribers asking the same",
        f"{FANOUT_EXECUTION} (called with serially=False)",
        signature="(self, serially=None)",
    ),
    Borrowed(
        "graphql-core",
        f"{_GRAPHQL_EXECUTOR}.complete_list_value",
        "lists of scalars and plain objects completed in one pass",
        EXECUTION,
        signature="(self, return_type, field_details_list, info, path, result, position_context)",
    ),
    Borrowed(
        "graphql-core",
        f"{_GRAPHQL_EXECUTOR}.get_stream_usage",
        "@stream left to graphql-core",
        EXECUTION,
        signature="(self, field_details_list, path)",
    ),
    Borrowed(
        "graphql-core",
        f"{_GRAPHQL_EXECUTOR}.collect_subfields",
        "the selected fields of plain objects",
        EXECUTION,
        signature="(self, return_type, field_details_list)",
    ),
    *(
        Borrowed(
            "graphql-core",
            f"graphql.execution.collect_fields:CollectedFields.{field}",
            "the selected fields of plain objects",
            LIST_COMPLETION,
        )
        for field in ("grouped_field_set", "new_defer_usages")
    ),
    Borrowed(
        "graphql-core",
        "graphql.execution.collect_fields:FieldDetails.node",
        "a selected field's name and arguments",
        LIST_COMPLETION,
    ),
    Borrowed(
        "graphql-core",
        "graphql:MiddlewareManager.middlewares",
        "no fast path when an extension wraps every resolver",
        LIST_COMPLETION,
    ),
    # strawberry-graphql: internal modules, the schema methods overridden, the websocket view.
    Borrowed("strawberry-graphql", _GRAPHQL_EXECUTOR, "the executor subclassed", EXECUTION),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.schema:DEFAULT_ALLOWED_OPERATION_TYPES",
        "subscriptions refused over HTTP",
        SCHEMA,
    ),
    Borrowed("strawberry-graphql", "strawberry.schema.schema:StreamResult", "stream()", SCHEMA),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.exceptions:CannotGetOperationTypeError.__init__",
        "a non-string operationName refused as bad input",
        f"{SCHEMA}, graphql_schema/error_masking.py",
        signature="(self, operation_name)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.exceptions:InvalidOperationTypeError",
        "pre-execution errors told from internal ones",
        "graphql_schema/error_masking.py",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.types.execution:PreExecutionError",
        "a websocket operation refused before parsing",
        SCHEMA,
        signature="(data, errors, extensions=None)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.schema:Schema.__init__",
        "the project's schema",
        SCHEMA,
        keywords=("extensions", "exception_handlers", "config", "execution_context_class"),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.schema:Schema.execute",
        "subscriptions refused over HTTP (super() called with positional arguments)",
        SCHEMA,
        signature=(
            "(self, query, variable_values=None, context_value=None, root_value=None, "
            "operation_name=None, allowed_operation_types=None, operation_extensions=None)"
        ),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.schema:Schema.stream",
        "bad websocket queries and variables refused (read as the first two arguments)",
        SCHEMA,
        signature=(
            "(self, query, variable_values=None, context_value=None, root_value=None, "
            "operation_name=None, operation_extensions=None, allowed_operation_types=None)"
        ),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.schema.schema:Schema.process_errors",
        "errors logged and rewritten in place for clients",
        SCHEMA,
        signature="(self, errors, execution_context=None)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry:ExceptionHandler.handle",
        "domain errors turned into GraphQL error types",
        "graphql_schema/types/errors.py",
        signature="(self, exception, *, field, info)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.extensions.base_extension:SchemaExtension.__init__",
        "extensions built by the project (super().__init__() without arguments)",
        "graphql_schema/parsed_documents.py, app/graphql_metrics.py",
        signature="(self, *, execution_context=None)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.extensions:QueryDepthLimiter.__init__",
        "its validation rules built once per schema",
        SCHEMA,
        keywords=("max_depth",),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.extensions:MaxAliasesLimiter.__init__",
        "its validation rules built once per schema",
        SCHEMA,
        keywords=("max_alias_count",),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.asgi:ASGIWebSocketAdapter.__init__",
        "text frames and messages written at once",
        VIEW,
        signature="(self, view, request, response)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.asgi:ASGIWebSocketAdapter.send_json",
        "messages sent as text frames",
        VIEW,
        signature="(self, message)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.asgi:GraphQL.__init__",
        "the view's options",
        f"{VIEW}, app/main.py",
        keywords=(
            "graphql_ide",
            "allowed_origins",
            "connection_init_wait_timeout",
            "max_subscriptions_per_connection",
        ),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.asgi:GraphQL.render_graphql_ide",
        "GraphiQL from the web build",
        VIEW,
        signature="(self, request)",
    ),
    Borrowed(
        "strawberry-graphql", "strawberry.asgi:GraphQL.encode_json", "orjson", VIEW, "(self, data)"
    ),
    Borrowed(
        "strawberry-graphql", "strawberry.asgi:GraphQL.decode_json", "orjson", VIEW, "(self, data)"
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.asgi:GraphQL.on_ws_connect",
        "websocket sign-in",
        VIEW,
        signature="(self, context)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.asgi:GraphQL.get_context",
        "the request context",
        VIEW,
        signature="(self, request, response)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:"
        "BaseGraphQLTransportWSHandler.handle",
        "open connections counted",
        HANDLERS,
        signature="(self)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:"
        "BaseGraphQLTransportWSHandler.run_operation",
        "operations logged and written directly",
        HANDLERS,
        signature="(self, operation)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_ws.handlers:BaseGraphQLWSHandler.handle",
        "open connections counted",
        HANDLERS,
        signature="(self)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_ws.handlers:"
        "BaseGraphQLWSHandler.handle_async_results",
        "operations logged and written directly",
        HANDLERS,
        signature="(self, operation_id, query, operation_name, variables)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:Operation",
        "run_operation's argument",
        HANDLERS,
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:Operation.send_next",
        "a direct operation's results sent as strawberry sends them",
        DIRECT_OPERATIONS,
        signature="(self, execution_result)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:"
        "Operation.send_operation_message",
        "a direct operation's complete, which unregisters it",
        DIRECT_OPERATIONS,
        signature="(self, message)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:"
        "BaseGraphQLTransportWSHandler.on_request_accepted",
        "the connection_init deadline a timer instead of a task",
        HANDLERS,
        signature="(self)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.subscriptions.protocols.graphql_transport_ws.handlers:"
        "BaseGraphQLTransportWSHandler.handle_task_exception",
        "a direct operation's failure logged as strawberry logs one",
        HANDLERS,
        signature="(self, error)",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.types:ExecutionContext",
        "a direct operation's errors processed by the schema",
        DIRECT,
        keywords=(
            "query",
            "schema",
            "allowed_operations",
            "context",
            "variables",
            "root_value",
            "provided_operation_name",
            "graphql_document",
        ),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.utils.aio:aclosing",
        "a direct operation's event stream closed",
        DIRECT_OPERATIONS,
        signature="(thing)",
    ),
    Borrowed(
        "graphql-core",
        "graphql.execution:create_source_event_stream",
        "a direct operation's source stream",
        DIRECT,
        signature="(executor)",
    ),
    Borrowed(
        "graphql-core",
        "graphql.execution:Executor.build",
        "a direct operation's executor, built as subscribe() builds it",
        DIRECT,
        keywords=(
            "schema",
            "document",
            "root_value",
            "context_value",
            "raw_variable_values",
            "operation_name",
        ),
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.http.exceptions:WebSocketDisconnected",
        "a closed websocket while writing",
        f"{VIEW}, graphql_schema/fanout/operation.py",
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.types.unset:UnsetType",
        "connection_ack without a payload",
        VIEW,
    ),
    Borrowed(
        "strawberry-graphql",
        "strawberry.types.scalar:ScalarDefinition",
        "the scalar map",
        "graphql_schema/scalars.py",
    ),
    # uvicorn: the websocket protocol and the server subclassed.
    Borrowed(
        "uvicorn",
        "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol"
        ".handle_connect",
        "send_text_now put into the websocket scope",
        PROTOCOL,
        signature="(self, event)",
    ),
    Borrowed(
        "uvicorn",
        "uvicorn:Server.__init__",
        "graceful shutdown",
        SHUTDOWN,
        signature="(self, config)",
    ),
    Borrowed(
        "uvicorn",
        "uvicorn:Server.shutdown",
        "websockets closed with 1001 before uvicorn's own shutdown",
        SHUTDOWN,
        signature="(self, sockets=None)",
    ),
    Borrowed(
        "uvicorn",
        "uvicorn:Server.capture_signals",
        "exit status 0 after a stop signal",
        SHUTDOWN,
        signature="(self)",
    ),
    Borrowed(
        "uvicorn",
        "uvicorn:Server.handle_exit",
        "the signal handler installed",
        SHUTDOWN,
        signature="(self, sig, frame)",
    ),
    Borrowed(
        "uvicorn",
        "uvicorn:Config.__init__",
        "stockql serve",
        "app/cli.py",
        keywords=("ws", "log_config", "timeout_graceful_shutdown"),
    ),
    Borrowed("uvicorn", "uvicorn.config:STARTUP_FAILURE", "exit status", "app/cli.py"),
    # websockets: what the protocol checks before writing a frame itself.
    Borrowed("websockets", "websockets.http11:Request", "handle_connect's event", PROTOCOL),
    Borrowed("websockets", "websockets.protocol:State.OPEN", "only open connections", PROTOCOL),
    # broadcaster: Broadcast's public API over our backends (its extension point).
    Borrowed(
        "broadcaster",
        "broadcaster._base:Subscriber.get",
        "a channel's feeder reads broadcaster's subscription",
        BROADCAST,
        signature="(self)",
    ),
    *(
        Borrowed(
            "broadcaster",
            f"broadcaster:Broadcast.{method}",
            "bounded fan-out over Broadcast",
            BROADCAST,
            signature=signature,
        )
        for method, signature in [
            ("__init__", "(self, url=None, *, backend=None)"),
            ("connect", "(self)"),
            ("disconnect", "(self)"),
            ("publish", "(self, channel, message)"),
            ("subscribe", "(self, channel)"),
        ]
    ),
    Borrowed(
        "broadcaster",
        "broadcaster:Event.__init__",
        "messages as bytes",
        "app/adapters/events/backend.py",
        signature="(self, channel, message)",
    ),
    *(
        Borrowed(
            "broadcaster",
            f"broadcaster:BroadcastBackend.{method}",
            "the methods Broadcast calls on our backends",
            "app/adapters/events/memory_backend.py, redis_backend.py",
            signature=signature,
        )
        for method, signature in [
            ("connect", "(self)"),
            ("disconnect", "(self)"),
            ("subscribe", "(self, group)"),
            ("unsubscribe", "(self, group)"),
            ("publish", "(self, channel, message)"),
            ("next_published", "(self)"),
        ]
    ),
    # redis: the pub/sub connection driven by hand.
    Borrowed(
        "redis",
        "redis.asyncio.connection:AbstractConnection.read_response",
        "replies read with a timeout, keeping a partial one, in RESP3 push mode",
        REDIS_BACKEND,
        keywords=("timeout", "push_request"),
    ),
    Borrowed(
        "redis",
        "redis.asyncio.connection:AbstractConnection.disconnect",
        "a lost connection dropped without waiting",
        REDIS_BACKEND,
        keywords=("nowait",),
    ),
    Borrowed(
        "redis",
        "redis.asyncio.connection:AbstractConnection.is_connected",
        "whether the pub/sub session is up",
        REDIS_BACKEND,
    ),
    Borrowed(
        "redis",
        "redis.asyncio:BlockingConnectionPool.__init__",
        "publishes and commands wait for a pooled connection",
        f"{REDIS_BACKEND}, app/runtime.py",
        keywords=("max_connections", "timeout"),
    ),
    Borrowed(
        "redis", "redis.asyncio:Redis.from_pool", "clients over those pools", "app/runtime.py"
    ),
    Borrowed(
        "redis",
        "redis.asyncio.connection:AbstractConnection.__init__",
        "the settings each pub/sub connection is made with (from the pool's kwargs)",
        REDIS_BACKEND,
        keywords=("client_name", "socket_connect_timeout", "socket_timeout", "retry"),
    ),
    Borrowed(
        "redis",
        "redis.asyncio.connection:Connection.__init__",
        "keepalive on the pub/sub connection",
        REDIS_BACKEND,
        keywords=("socket_keepalive",),
    ),
    Borrowed("redis", "redis.asyncio.retry:Retry", "one retry", "app/runtime.py"),
    Borrowed("redis", "redis.backoff:NoBackoff", "one retry", "app/runtime.py"),
    # Others: internal modules and methods of Prometheus, Alembic, SQLAlchemy, Starlette, sklearn.
    Borrowed(
        "prometheus-client",
        "prometheus_client.exposition:choose_encoder",
        "Prometheus text or OpenMetrics by the Accept header",
        "app/metrics.py",
        signature="(accept_header)",
    ),
    Borrowed(
        "alembic",
        "alembic.autogenerate.api:AutogenContext",
        "render_item's context",
        "migrations/env.py",
    ),
    Borrowed(
        "sqlalchemy",
        "sqlalchemy.pool:AsyncAdaptedQueuePool._do_get",
        "a pool timeout reported as DatabaseUnavailable",
        "app/adapters/sql/outage.py",
        signature="(self)",
    ),
    Borrowed(
        "starlette",
        "starlette.staticfiles:StaticFiles.file_response",
        "a year of caching for hashed assets",
        "app/web.py",
        signature="(self, full_path, stat_result, scope, status_code=200)",
    ),
    Borrowed(
        "scikit-learn",
        "sklearn.ensemble._hist_gradient_boosting.common:PREDICTOR_RECORD_DTYPE",
        "the node table of loaded boosted trees checked",
        SKLEARN,
    ),
    *(
        Borrowed(
            "scikit-learn",
            ":".join(trusted.rsplit(".", 1)),
            "a type trusted when loading model artifacts",
            "domain/signals/artifact.py",
        )
        for trusted in TRUSTED_TYPES
    ),
]


def resolve(name: str) -> Any:
    module, _, qualified = name.partition(":")
    found: Any = importlib.import_module(module)
    for attribute in filter(None, qualified.split(".")):
        found = getattr(found, attribute)
    return found


def parameters(function: Any) -> str:
    """The parameter list as the code relies on it: names, kinds, defaults, no annotations."""
    signature = inspect.signature(function)
    plain = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=plain, return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("row", NAMES, ids=str)
def test_borrowed_name_still_exists_with_the_signature_relied_on(row: Borrowed) -> None:
    message = depends(row.library, row.name, row.used_by, row.why)
    try:
        found = resolve(row.name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{message}: {error}")
    if row.signature is not None:
        assert parameters(found) == row.signature, message
    if row.keywords:
        accepted = inspect.signature(found).parameters
        by_name = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        missing = [
            keyword
            for keyword in row.keywords
            if keyword not in accepted or accepted[keyword].kind not in by_name
        ]
        assert not missing, f"{message}: no keyword {', '.join(missing)}"


# --- Attributes read or written on real library objects -------------------------------------


@dataclass(frozen=True)
class Held:
    """`attribute` (dotted) of the real object the fixture `instance` builds, which `used_by`
    reads or writes for `why`; `kind` is the type it relies on, when it relies on one."""

    library: str
    instance: str
    attribute: str
    why: str
    used_by: str
    kind: type | None = None

    def __str__(self) -> str:
        return f"{self.instance}.{self.attribute}"


ATTRIBUTES = [
    Held(
        "strawberry-graphql",
        "schema",
        "_schema",
        "the graphql-core schema a direct operation's executor is built on",
        DIRECT,
        GraphQLSchema,
    ),
    Held(
        "graphql-core",
        "executor",
        "_relevant_sub_fields",
        "replaced per subscription event (it would grow with every event)",
        EXECUTION,
        dict,
    ),
    Held("graphql-core", "executor", "root_value", "the event's payload", EXECUTION),
    Held(
        "graphql-core",
        "executor",
        "operation.loc.source.body",
        "what a subscription asks, as the key of shared results",
        EXECUTION,
        str,
    ),
    Held("graphql-core", "executor", "operation.name", "the key of shared results", EXECUTION),
    Held(
        "graphql-core",
        "executor",
        "variable_values.coerced",
        "the key of shared results",
        EXECUTION,
        dict,
    ),
    Held(
        "graphql-core",
        "executor",
        "middleware_manager",
        "no fast path when an extension wraps every resolver",
        EXECUTION,
    ),
    Held(
        "strawberry-graphql",
        "depth_limiter",
        "validation_rules",
        "the rule classes built once per schema (the validation cache is keyed by them)",
        SCHEMA,
    ),
    Held(
        "strawberry-graphql",
        "aliases_limiter",
        "validation_rules",
        "the rule classes built once per schema (the validation cache is keyed by them)",
        SCHEMA,
    ),
    Held("strawberry-graphql", "websocket_adapter", "ws", "the ASGI path of send_text", VIEW),
    Held("strawberry-graphql", "transport_handler", "view", "the view's metrics", HANDLERS),
    Held(
        "strawberry-graphql",
        "transport_handler",
        "websocket",
        "the adapter that writes directly",
        HANDLERS,
    ),
    Held(
        "strawberry-graphql",
        "transport_handler",
        "operations",
        "whether an operation may still send",
        HANDLERS,
        dict,
    ),
    Held("strawberry-graphql", "transport_operation", "id", "the message prefix", HANDLERS, str),
    Held("strawberry-graphql", "legacy_handler", "view", "the view's metrics", HANDLERS),
    Held(
        "strawberry-graphql",
        "legacy_handler",
        "websocket",
        "the adapter that writes directly",
        HANDLERS,
    ),
    Held(
        "strawberry-graphql",
        "legacy_handler",
        "tasks",
        "whether an operation may still send",
        HANDLERS,
        dict,
    ),
    *(
        Held(
            "uvicorn",
            "websocket_protocol",
            attribute,
            "when a frame may be written at once",
            PROTOCOL,
            kind,
        )
        for attribute, kind in [
            ("handshake_complete", bool),
            ("close_sent", bool),
            ("disconnected", bool),
            ("writable", LeanEvent),
            ("transport", asyncio.Transport),
        ]
    ),
    Held(
        "uvicorn",
        "websocket_protocol",
        "scope",
        "send_text_now put into the accepted connection's extensions",
        PROTOCOL,
        dict,
    ),
    Held(
        "websockets",
        "websocket_protocol",
        "conn.state",
        "only open connections get frames written at once",
        PROTOCOL,
        websockets.protocol.State,
    ),
    Held("uvicorn", "server", "servers", "listeners closed first at shutdown", SHUTDOWN, list),
    Held("uvicorn", "server", "started", "exit status of stockql serve", "app/cli.py", bool),
    Held(
        "redis",
        "redis_pool",
        "connection_class",
        "pub/sub connections made with the URL's settings",
        REDIS_BACKEND,
        type,
    ),
    Held(
        "redis",
        "redis_pool",
        "connection_kwargs",
        "pub/sub connections made with the URL's settings",
        REDIS_BACKEND,
        dict,
    ),
    Held(
        "redis",
        "redis_client",
        "connection_pool.connection_kwargs",
        "decode_responses refused",
        "app/adapters/events/price_feed.py",
        dict,
    ),
    Held(
        "starlette",
        "static_files",
        "config_checked",
        "a missing build answers 404, not 500",
        "app/web.py",
        bool,
    ),
    Held(
        "sqlalchemy",
        "utc_datetime",
        "impl_instance",
        "revisions render the plain SQLAlchemy type",
        "migrations/env.py",
    ),
    Held("typer", "cli_group", "commands", "every command documented", "tests/unit/test_readme.py"),
    Held(
        "typer",
        "cli_command",
        "params",
        "every option documented",
        "tests/unit/test_readme.py",
        list,
    ),
    Held("typer", "cli_option", "opts", "every option documented", "tests/unit/test_readme.py"),
    Held("typer", "cli_option", "name", "every option documented", "tests/unit/test_readme.py"),
    Held(
        "scikit-learn",
        "calibrated_classifier",
        "estimator",
        "the boosted model inside each calibrated pair",
        SKLEARN,
    ),
    Held(
        "scikit-learn",
        "calibrated_classifier",
        "calibrators",
        "out-of-fold scores through the fitted calibrators (the nested position threshold)",
        SKLEARN,
        list,
    ),
    Held(
        "scikit-learn",
        "calibrated_classifier",
        "method",
        "only one-vs-rest calibrators map each class's score on its own",
        SKLEARN,
        str,
    ),
    Held(
        "scikit-learn",
        "boosted_classifier",
        "_predictors",
        "the trees of a loaded model checked before use",
        SKLEARN,
        list,
    ),
    Held(
        "scikit-learn",
        "tree_predictor",
        "nodes",
        "the node table checked before use",
        SKLEARN,
        np.ndarray,
    ),
]


@pytest.mark.parametrize("row", ATTRIBUTES, ids=str)
def test_borrowed_attribute_is_still_on_the_library_object(
    row: Held, request: pytest.FixtureRequest
) -> None:
    message = depends(row.library, f"the attribute {row}", row.used_by, row.why)
    found: Any = request.getfixturevalue(row.instance)
    for attribute in row.attribute.split("."):
        assert hasattr(found, attribute), message
        found = getattr(found, attribute)
    if row.kind is not None:
        assert isinstance(found, row.kind), f"{message}: now {type(found).__name__}"


SUBSCRIPTION = "subscription Watch($symbol: String!) { stockPrice(symbol: $symbol) { symbol } }"


@pytest.fixture(scope="module")
def schema() -> StockQLSchema:
    return build_schema()


@pytest.fixture(scope="module")
def executor(schema: StockQLSchema) -> StockQLExecutionContext:
    """Built as strawberry builds it for a subscription (Executor.build)."""
    built = StockQLExecutionContext.build(
        schema._schema, parse(SUBSCRIPTION), raw_variable_values={"symbol": "AAPL"}
    )
    assert isinstance(built, StockQLExecutionContext), built
    return built


@pytest.fixture(scope="module")
def depth_limiter() -> object:
    return QueryDepthLimiter(max_depth=3)


@pytest.fixture(scope="module")
def aliases_limiter() -> object:
    return MaxAliasesLimiter(max_alias_count=3)


async def _nothing_received() -> dict[str, Any]:
    return {"type": "websocket.disconnect", "code": 1000}


async def _nothing_sent(message: Any) -> None:
    pass


@pytest.fixture(scope="module")
def websocket_adapter(schema: StockQLSchema) -> TextFrameWebSocketAdapter:
    """The adapter strawberry's view makes for a connection (nothing is sent through it)."""
    scope = {"type": "websocket", "path": "/graphql", "headers": [], "extensions": {}}
    websocket = WebSocket(scope, _nothing_received, _nothing_sent)
    return TextFrameWebSocketAdapter(GraphQLView(schema), websocket, websocket)


@pytest.fixture(scope="module")
def transport_handler(
    schema: StockQLSchema, websocket_adapter: TextFrameWebSocketAdapter
) -> TransportWSHandler:
    view: Any = websocket_adapter.view  # typed for the app's Context, which is not needed here
    return TransportWSHandler(
        view,
        websocket_adapter,
        context=cast("Context", None),
        root_value=None,
        schema=schema,
        connection_init_wait_timeout=timedelta(seconds=1),
    )


@pytest.fixture(scope="module")
def transport_operation(transport_handler: TransportWSHandler) -> object:
    return Operation(transport_handler, "1", SUBSCRIPTION, None, None)


@pytest.fixture(scope="module")
def legacy_handler(
    schema: StockQLSchema, websocket_adapter: TextFrameWebSocketAdapter
) -> LegacyWSHandler:
    view: Any = websocket_adapter.view
    return LegacyWSHandler(
        view,
        websocket_adapter,
        context=cast("Context", None),
        root_value=None,
        schema=schema,
        keep_alive=False,
        keep_alive_interval=None,
    )


@dataclass
class LiveServer:
    server: GracefulServer
    protocol: StockQLWebSocketProtocol


@pytest.fixture(scope="module")
async def live_server() -> AsyncIterator[LiveServer]:
    """`stockql serve`'s server and websocket protocol after serving one real client: the
    protocol object is the one that served the connection (send_text_now is bound to it)."""
    protocols: list[StockQLWebSocketProtocol] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        protocols.append(scope["extensions"][SEND_TEXT_NOW].__self__)
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # until the client leaves

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws=StockQLWebSocketProtocol
    )
    server = GracefulServer(config, websockets=OpenWebSockets())
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server stopped during start-up"
            await asyncio.sleep(0.02)
        async with websockets.connect(f"ws://127.0.0.1:{port}/"):
            pass
        (protocol,) = protocols
        yield LiveServer(server, protocol)
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def websocket_protocol(live_server: LiveServer) -> StockQLWebSocketProtocol:
    return live_server.protocol


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> GracefulServer:
    return live_server.server


# Pools and clients connect on first use, and these are only looked at.
NEVER_CONNECTED = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def redis_pool() -> object:
    from redis.asyncio.connection import ConnectionPool

    return ConnectionPool.from_url(NEVER_CONNECTED)


@pytest.fixture(scope="module")
def redis_client() -> object:
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(NEVER_CONNECTED)


@pytest.fixture(scope="module")
def static_files(tmp_path_factory: pytest.TempPathFactory) -> object:
    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=tmp_path_factory.mktemp("assets"), check_dir=False)


@pytest.fixture(scope="module")
def utc_datetime() -> UtcDateTime:
    return UtcDateTime()


@pytest.fixture(scope="module")
def cli_group() -> TyperGroup:
    group = get_command(cli)
    assert isinstance(group, TyperGroup)
    return group


@pytest.fixture(scope="module")
def cli_command(cli_group: TyperGroup) -> object:
    return cli_group.commands["serve"]


@pytest.fixture(scope="module")
def cli_option(cli_command: Any) -> TyperOption:
    option = next(p for p in cli_command.params if isinstance(p, TyperOption))
    assert isinstance(option, TyperOption)
    return option


@pytest.fixture(scope="module")
def calibrated_model() -> _sklearn.FittedEstimator:
    """A small model as `stockql train` fits it (gradient boosting, calibrated)."""
    rows = np.random.default_rng(7).normal(size=(300, 3))
    classes = (np.arange(300) % 3).astype(np.int8)
    splits = [(np.arange(150, 300), np.arange(0, 150)), (np.arange(0, 150), np.arange(150, 300))]
    params: _sklearn.Params = {"max_iter": 3, "max_depth": 2, "min_samples_leaf": 20}
    return _sklearn.fit_calibrated(
        _sklearn.GRADIENT_BOOSTING, params, rows, classes, splits, method="sigmoid", random_state=0
    )


@pytest.fixture(scope="module")
def calibrated_classifier(calibrated_model: _sklearn.FittedEstimator) -> Any:
    return calibrated_model.estimator.calibrated_classifiers_[0]


@pytest.fixture(scope="module")
def boosted_classifier(calibrated_classifier: Any) -> Any:
    return calibrated_classifier.estimator


@pytest.fixture(scope="module")
def tree_predictor(boosted_classifier: Any) -> Any:
    return boosted_classifier._predictors[0][0]


# --- Behaviour the code counts on, beyond names ---------------------------------------------


def test_graphql_core_memoizes_subfields_in_the_memo_it_shares_with_per_event_copies(
    executor: StockQLExecutionContext,
) -> None:
    """Why FreshSubfieldMemoPerEvent replaces the memo per event: graphql-core's own copy
    shares it, so every event's field lists would stay in it."""
    message = depends(
        "graphql-core",
        "collect_subfields' memo (_relevant_sub_fields)",
        SUBFIELD_MEMO,
        "a memo of its own per event; if copies no longer share it, drop the override",
    )
    inherited = super(FreshSubfieldMemoPerEvent, executor).build_per_event_executor(object())
    assert inherited._relevant_sub_fields is executor._relevant_sub_fields, message
    (operation_field,) = executor.operation.selection_set.selections
    assert isinstance(operation_field, FieldNode), message
    subscription = executor.schema.subscription_type
    assert isinstance(subscription, GraphQLObjectType)
    from graphql.execution.collect_fields import FieldDetails

    before = len(executor._relevant_sub_fields)
    executor.collect_subfields(subscription, [FieldDetails(operation_field, None)])
    assert len(executor._relevant_sub_fields) == before + 1, message


def test_strawberry_marks_plain_attribute_fields_and_their_python_names(
    schema: StockQLSchema,
) -> None:
    """The plain-object fast path reads a field straight from an attribute only when
    strawberry's resolver is its default one (`_is_default`) and names the attribute
    (`extensions["strawberry-definition"].python_name`)."""
    message = depends(
        "strawberry-graphql",
        "the marks of plain attribute fields",
        LIST_COMPLETION,
        "lists of plain objects completed in one pass",
    )
    plain = {
        (type_name, field_name): field
        for type_name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType) and not type_name.startswith("__")
        for field_name, field in graphql_type.fields.items()
        if getattr(field.resolve, "_is_default", False)
    }
    assert ("Bar", "close") in plain, message
    for field in plain.values():
        definition = (field.extensions or {}).get("strawberry-definition")
        assert isinstance(getattr(definition, "python_name", None), str), message
    leaf = plain["Bar", "close"].type
    leaf = getattr(leaf, "of_type", leaf)
    assert is_leaf_type(leaf), message
    assert callable(leaf.coerce_output_value), message


async def test_strawberry_extensions_see_the_execution_context_attributes_used() -> None:
    message = depends(
        "strawberry-graphql",
        "SchemaExtension.execution_context",
        "graphql_schema/parsed_documents.py, app/graphql_metrics.py, graphql_schema/schema.py",
        "documents remembered, operations counted, errors logged with the request id",
    )
    seen: dict[str, object] = {}

    class Recording(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            for attribute in ("query", "graphql_document", "operation_name", "context"):
                seen[attribute] = getattr(context, attribute)
            seen["operation_type"] = context.operation_type.value
            yield

    result = await build_schema(extensions=[Recording]).execute(
        "query Named { __typename }", context_value="the context"
    )
    assert result.errors is None, result.errors
    assert seen["query"] == "query Named { __typename }", message
    assert seen["graphql_document"] is not None, message
    assert (seen["operation_name"], seen["operation_type"]) == ("Named", "query"), message
    assert seen["context"] == "the context", message


class _Suspend:
    def __await__(self) -> Iterator[None]:
        yield  # suspends the coroutine awaiting it, once


@pytest.mark.parametrize(
    ("handler", "schema_method"),
    [
        (BaseGraphQLTransportWSHandler.run_operation, "stream"),
        (BaseGraphQLWSHandler.handle_async_results, "subscribe"),
    ],
    ids=["graphql-transport-ws", "graphql-ws"],
)
def test_strawberry_reads_an_operations_root_value_before_it_first_awaits(
    handler: Any, schema_method: str
) -> None:
    """app/websocket_handlers.py sets the handler's root value to the operation's output right
    before starting the operation: sound only while strawberry reads it before any other
    operation of the connection can run, i.e. before its first await."""
    seen: list[object] = []

    def start(*args: Any, **kwargs: Any) -> _Suspend:
        seen.append(kwargs["root_value"])
        return _Suspend()

    marker = object()
    fake_handler = SimpleNamespace(
        schema=SimpleNamespace(**{schema_method: start}),
        context=None,
        root_value=marker,
        subscriptions={},
        tasks={},
    )
    operation = SimpleNamespace(query="subscription { x }", variables=None, operation_name=None)
    arguments = (operation,) if schema_method == "stream" else ("1", "q", None, None)
    coroutine = handler(fake_handler, *arguments)
    try:
        coroutine.send(None)
        assert seen == [marker], depends(
            "strawberry-graphql",
            f"{handler.__qualname__} awaiting before it calls schema.{schema_method}",
            HANDLERS,
            "the operation's root value (its output) read by another operation",
        )
    finally:
        coroutine.close()


def test_uvicorn_uses_only_what_the_lean_queue_and_event_have() -> None:
    # app/websocket_protocol.py replaces uvicorn's per-connection asyncio.Queue and Event with
    # app/lean_asyncio.py's: every method uvicorn calls on them must exist there.
    from uvicorn.protocols.websockets import websockets_sansio_impl

    source = inspect.getsource(websockets_sansio_impl)
    for attribute, lean in (("queue", LeanQueue), ("writable", LeanEvent)):
        used = set(re.findall(rf"self\.{attribute}\.(\w+)", source))
        assert used, f"uvicorn no longer uses self.{attribute}: is the replacement still needed?"
        assert used <= set(dir(lean)), (attribute, used - set(dir(lean)))
        assert re.findall(rf"self\.{attribute}\b[^=\n]*= asyncio\.(\w+)\(", source) == [
            "Queue" if attribute == "queue" else "Event"
        ]
    # The handshake's request and response, dropped once accepted: read only by these.
    for attribute in ("request", "response"):
        readers = {
            name
            for name, function in inspect.getmembers(
                websockets_sansio_impl.WebSocketsSansIOProtocol, inspect.isfunction
            )
            if f"self.{attribute}" in inspect.getsource(function)
        }
        assert readers <= {"handle_connect", "send"}, (attribute, readers)


def test_websockets_debug_lines_of_frames_are_what_the_logs_mask() -> None:
    """websockets logs each frame at debug level ("< TEXT '...' [n bytes]"): app/logs.py masks
    those lines by their form, a connection_init's token included."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("tests.borrowed.websockets")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(Keep())
    from websockets.frames import Frame, Opcode
    from websockets.protocol import Protocol, Side

    protocol = Protocol(Side.SERVER, logger=logger)
    secret = b'{"type":"connection_init","payload":{"authToken":"hunter22"}}'
    protocol.receive_data(Frame(Opcode.TEXT, secret).serialize(mask=True))
    lines = [record.getMessage() for record in records]
    assert lines, "websockets no longer logs received frames at debug level"
    masked = [wire_lines(None, "debug", {"event": line})["event"] for line in lines]
    assert not any("hunter22" in line for line in masked), depends(
        "websockets", "the form of its debug frame lines", "app/logs.py", "secrets masked"
    )


def test_uvicorn_access_lines_carry_the_arguments_the_logs_read() -> None:
    """app/logs.py turns uvicorn's access lines into fields from the record's five arguments
    (client, method, path, HTTP version, status), as uvicorn's own formatter reads them."""
    from uvicorn.logging import AccessFormatter

    args = ("127.0.0.1:5000", "GET", "/graphql?query=x", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", args, None)
    message = depends(
        "uvicorn", "the arguments of access log records", "app/logs.py", "access lines as fields"
    )
    try:
        line = AccessFormatter(fmt="%(request_line)s %(status_code)s").formatMessage(record)
    except (TypeError, ValueError) as error:
        pytest.fail(f"{message}: {error}")
    assert line == "GET /graphql?query=x HTTP/1.1 200 OK", message
    fields = access_log_fields(None, "info", {"positional_args": args, "_record": record})
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/graphql", 200)


def test_redis_send_command_passes_check_health_on() -> None:
    """RedisBackend sends SUBSCRIBE and PING with check_health=False, which redis-py takes from
    **kwargs: a health check there could reconnect the pub/sub connection behind the reader."""
    from redis.asyncio.connection import AbstractConnection

    source = inspect.getsource(AbstractConnection.send_command)
    assert "check_health" in source, depends(
        "redis", "send_command's check_health", REDIS_BACKEND, "no health check on pub/sub"
    )


@pytest.mark.services
async def test_redis_connections_are_driven_as_the_pub_sub_reader_drives_them(
    redis_url: str,
) -> None:
    """RedisBackend._run: a connection made from the pool's settings, one command, its reply
    read with a timeout in push mode, then dropped without waiting."""
    from redis.asyncio.connection import ConnectionPool

    message = depends(
        "redis", "its asyncio connections", REDIS_BACKEND, "the self-healing pub/sub reader"
    )
    pool = ConnectionPool.from_url(redis_url)
    connection = pool.connection_class(**pool.connection_kwargs)
    try:
        await connection.connect()  # type: ignore[no-untyped-call]  # redis-py
        assert connection.is_connected, message
        await connection.send_command("PING", check_health=False)
        assert await connection.read_response(timeout=2, push_request=True) == b"PONG", message
        assert await connection.read_response(timeout=0.05, push_request=True) is None, message
    finally:
        await connection.disconnect(nowait=True)
        await pool.aclose()
    assert not connection.is_connected, message


def test_sklearn_boosted_trees_have_the_node_table_the_checks_read(
    calibrated_model: _sklearn.FittedEstimator,
) -> None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    message = depends(
        "scikit-learn",
        "the trees of HistGradientBoostingClassifier",
        SKLEARN,
        "loaded models checked before sklearn's unchecked C code reads them",
    )
    names = PREDICTOR_RECORD_DTYPE.names or ()
    assert {"is_leaf", "is_categorical", "feature_idx", "left", "right"} <= set(names), message
    checked = _sklearn.check_estimator(calibrated_model.estimator, n_features=3)
    assert checked.estimator is calibrated_model.estimator
    with pytest.raises(ValueError, match="outside"):
        _sklearn.check_estimator(calibrated_model.estimator, n_features=0)


# --- Subclasses: our own names must not land on the library's -----------------------------


@dataclass(frozen=True)
class Subclass:
    """Our class `ours`, a subclass of `library`'s classes, replacing only `overrides` (the
    methods and attributes it means to replace or set)."""

    library: str
    ours: type
    overrides: frozenset[str]
    used_by: str

    def __str__(self) -> str:
        return self.ours.__name__


# Set on every class by ABCMeta, Protocol and Generic, not by the libraries.
_CLASS_MACHINERY = frozenset({"_abc_impl", "_is_protocol", "_is_runtime_protocol"})


def _set_on_self(cls: type) -> set[str]:
    """The attributes the methods of `cls` assign on `self`."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no Python source (a builtin or a C extension)
        return set()
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def _names(cls: type) -> set[str]:
    """What `cls` itself defines: class attributes, methods and attributes set on self."""
    defined = {name for name in vars(cls) if not name.startswith("__")} | _set_on_self(cls)
    return defined - _CLASS_MACHINERY


def _library_names(ours: type) -> set[str]:
    """What the library classes above `ours` define (typing's and ABC's bases aside)."""
    own_modules = ("app.", "graphql_schema.", "domain.", "resolvers.")
    return set().union(
        *(
            _names(base)
            for base in ours.__mro__[1:]
            if not base.__module__.startswith(own_modules)
            and base.__module__ not in ("builtins", "typing", "abc")
        )
    )


def _overrides(*names: str) -> frozenset[str]:
    return frozenset(names)


SUBCLASSES = [
    Subclass(
        "graphql-core",
        StockQLExecutionContext,
        _overrides("build", "complete_list_value"),
        EXECUTION,
    ),
    Subclass(
        "graphql-core",
        SharedEventExecution,
        _overrides("build_per_event_executor", "execute_operation"),
        FANOUT_EXECUTION,
    ),
    Subclass(
        "graphql-core",
        FreshSubfieldMemoPerEvent,
        _overrides("build_per_event_executor"),
        SUBFIELD_MEMO,
    ),
    Subclass(
        "strawberry-graphql",
        StockQLSchema,
        _overrides("execute", "stream", "process_errors"),
        SCHEMA,
    ),
    Subclass(
        "strawberry-graphql",
        RememberParsedDocuments,
        _overrides("on_parse"),
        "graphql_schema/parsed_documents.py",
    ),
    Subclass(
        "strawberry-graphql",
        GraphQLMetrics,
        _overrides("on_operation", "on_execute"),
        "app/graphql_metrics.py",
    ),
    Subclass(
        "strawberry-graphql",
        TextFrameWebSocketAdapter,
        _overrides("send_json"),
        VIEW,
    ),
    Subclass(
        "strawberry-graphql",
        GraphQLView,
        _overrides(
            "websocket_adapter_class",
            "graphql_transport_ws_handler_class",
            "graphql_ws_handler_class",
            "render_graphql_ide",
            "encode_json",
            "decode_json",
            "on_ws_connect",
            "get_context",
        ),
        VIEW,
    ),
    Subclass(
        "strawberry-graphql",
        TransportWSHandler,
        _overrides(
            "handle",
            "run_operation",
            "handle_connection_init",
            "root_value",
            "on_request_accepted",
            "connection_timed_out",
        ),
        HANDLERS,
    ),
    Subclass(
        "strawberry-graphql",
        LegacyWSHandler,
        _overrides("handle", "handle_async_results", "handle_connection_init", "root_value"),
        HANDLERS,
    ),
    Subclass(
        "uvicorn",
        StockQLWebSocketProtocol,
        _overrides("handle_connect", "send", "queue", "writable"),
        PROTOCOL,
    ),
    Subclass("uvicorn", GracefulServer, _overrides("shutdown", "capture_signals"), SHUTDOWN),
    Subclass("broadcaster", EventBackend, _overrides(), "app/adapters/events/backend.py"),
    *(
        Subclass(
            "broadcaster",
            backend,
            _overrides(
                "connect", "disconnect", "subscribe", "unsubscribe", "publish", "next_published"
            ),
            f"app/adapters/events/{module}.py",
        )
        for backend, module in [(MemoryBackend, "memory_backend"), (RedisBackend, "redis_backend")]
    ),
    Subclass(
        "sqlalchemy", OutageReportingPool, _overrides("_do_get"), "app/adapters/sql/outage.py"
    ),
    Subclass(
        "starlette", HashedAssets, _overrides("file_response", "config_checked"), "app/web.py"
    ),
]


@pytest.mark.parametrize("row", SUBCLASSES, ids=str)
def test_our_subclass_adds_no_name_the_library_now_uses(row: Subclass) -> None:
    """A name of ours that the library starts to use too (a private attribute of its own, a
    new method) would silently replace the library's: only the listed overrides may."""
    library = _library_names(row.ours)
    stale = sorted(row.overrides - library)
    assert not stale, depends(
        row.library, f"{', '.join(stale)} (no longer there)", row.used_by, "overridden"
    )
    clashes = sorted((_names(row.ours) - row.overrides) & library)
    assert not clashes, (
        f"{row.library} now defines {', '.join(clashes)} too, which {row.used_by} uses as its "
        f"own in {row.ours.__name__}: rename ours, or make it an override on purpose"
    )


# --- The bounds in pyproject.toml -----------------------------------------------------------

# Whose internals the fast path borrows most: an upgrade of these must be a decision.
BOUNDED = ("graphql-core", "strawberry-graphql", "uvicorn", "websockets", "broadcaster", "redis")
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def _declared() -> dict[str, str]:
    """The project's runtime dependencies: name -> the whole requirement."""
    requirements = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return {
        re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]: requirement
        for requirement in requirements
    }


def test_libraries_whose_internals_are_borrowed_are_declared_with_an_upper_bound() -> None:
    declared = _declared()
    for library in BOUNDED:
        assert library in declared, f"{library} is not declared in pyproject.toml"
        assert "<" in declared[library], (
            f"{library} has no upper bound in pyproject.toml: an upgrade would reach production "
            "before tests/unit/test_borrowed_internals.py"
        )
    rows: list[Borrowed | Held | Subclass] = [*NAMES, *ATTRIBUTES, *SUBCLASSES]
    libraries = {row.library for row in rows}
    assert libraries <= set(declared), "every row names a runtime dependency as declared"
