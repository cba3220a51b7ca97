"""create_app(settings): the Starlette application with GraphQL, health checks and lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from app.cors import cors_middleware
from app.graphql_metrics import OperationCounter, graphql_metrics
from app.graphql_view import GraphQLView
from app.health import healthz, readyz
from app.limits import BodySizeLimit
from app.memory_release import FreedMemoryRelease, ReleaseAfterLargeResponses, malloc_trim
from app.metrics import Metrics, metrics_endpoint
from app.persisted_queries import PersistedQueries, load_trusted_documents, persisted_query_store
from app.request_ids import RequestIds
from app.response_cache import CachingGraphQLEndpoint
from app.runtime import open_runtime
from app.settings import Settings
from app.shutdown import InFlightRequests, OpenWebSockets
from app.web import DEFAULT_WEB_DIRECTORY, GRAPHIQL_PAGE, WebBuild
from app.worker import running_worker
from graphql_schema.cache_control import query_hints
from graphql_schema.schema import SchemaLimits, build_schema

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    websockets: OpenWebSockets | None = None,
    requests: InFlightRequests | None = None,
) -> Starlette:
    """`websockets` learns of every websocket opened, to close them at shutdown; `requests`
    answers those cut off by the shutdown timeout (see app/shutdown.py)."""
    if websockets is None:
        websockets = OpenWebSockets()
    if requests is None:
        requests = InFlightRequests()
    metrics = Metrics()
    operations = OperationCounter(metrics)
    trusted = (
        load_trusted_documents(settings.trusted_documents)
        if settings.trusted_documents is not None
        else None
    )
    schema = build_schema(
        SchemaLimits(
            max_depth=settings.max_query_depth,
            max_tokens=settings.max_query_tokens,
            max_aliases=settings.max_query_aliases,
            introspection=settings.introspection_enabled,
            trusted_documents=frozenset(trusted) if trusted is not None else None,
            max_cost=settings.max_query_cost,
            max_history_rows=settings.max_history_rows,
        ),
        extensions=[graphql_metrics(operations)],
        on_error_code=metrics.count_graphql_error,
    )
    web = WebBuild(settings.web_directory or DEFAULT_WEB_DIRECTORY)
    if (missing := web.missing_build()) is not None:
        log.warning("no web dashboard and GraphiQL at / and GET /graphql: %s", missing.summary)
    view = GraphQLView(
        schema,
        ide_page=lambda: web.page(GRAPHIQL_PAGE),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        trust_forwarded_for=settings.trust_forwarded_for,
        metrics=metrics,
        operations=operations,
        allowed_origins=settings.ws_allowed_origins,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        token_check_seconds=settings.ws_token_check_seconds,
    )
    graphql = CachingGraphQLEndpoint(
        view, hints=query_hints(schema), max_tokens=settings.max_query_tokens, operations=operations
    )
    persisted = PersistedQueries(graphql, trusted=trusted)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            runtime = await stack.enter_async_context(open_runtime(settings, metrics=metrics))
            app.state.runtime = runtime
            if settings.runs_worker_in_process:
                await stack.enter_async_context(running_worker(runtime))
            graphql.store = runtime.responses
            persisted.store = persisted_query_store(runtime.redis)
            # Everything made during start-up lives as long as the process: keeping it out of
            # the collector's generations turns ~100 ms full collections into a few ms.
            gc.freeze()
            yield

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *metrics_routes(settings, metrics),
            Route("/graphql", persisted, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            *web.routes(),
        ],
        middleware=[
            # Outermost: every response and log line of a request carries its id.
            Middleware(RequestIds),
            cors_middleware(settings),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            *memory_release_middleware(),
            Middleware(websockets.middleware),
            Middleware(requests.middleware),
        ],
        lifespan=lifespan,
    )


def metrics_routes(settings: Settings, metrics: Metrics) -> list[Route]:
    """GET /metrics, behind STOCKQL_METRICS_TOKEN when set; none in production without one."""
    if not settings.serves_metrics:
        log.warning("GET /metrics is off: in production it needs STOCKQL_METRICS_TOKEN")
        return []
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    return [Route("/metrics", metrics_endpoint(metrics, token=token))]


def memory_release_middleware() -> list[Middleware]:
    """Giving freed memory back after large responses, where the C library can (glibc)."""
    trim = malloc_trim()
    if trim is None:
        return []  # nothing to release with: no byte counting on every response either
    return [Middleware(ReleaseAfterLargeResponses, release=FreedMemoryRelease(trim))]
