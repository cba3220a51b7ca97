"""Prometheus metrics: the instruments of one app or worker process, in a registry of its own.

One `Metrics` is made per app (or worker) and handed to the adapters that count, as a
constructor collaborator. It never uses prometheus-client's global registry: several apps run
in one test process, and each must be scraped on its own. Label values are bounded by the
adapters that set them (operation names, channel and cache kinds), never raw client input.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

# GraphQL answers take milliseconds to seconds; subscriptions are observed for their lifetime.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Jobs run from milliseconds (a poll) to many minutes (retraining).
# A trade's price should be published within milliseconds of its time (clock skew aside).
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class Metrics:
    """Every StockQL instrument (names in README.md, "Metrics"), with the process collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)

        operation = ["operation_name", "operation_type"]
        self.graphql_requests = Counter(
            "stockql_graphql_requests",
            "GraphQL operations by operation name and type.",
            operation,
            registry=registry,
        )
        self.graphql_duration = Histogram(
            "stockql_graphql_request_duration_seconds",
            "Seconds from receiving a GraphQL operation to its answer (to its end for "
            "subscriptions).",
            operation,
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self.response_cache = Counter(
            "stockql_response_cache",
            "POSTed GraphQL operations by response cache outcome: hit, miss, stored (a miss "
            "whose result was kept), bypass (not cacheable: mutations, PRIVATE fields).",
            ["outcome"],
            registry=registry,
        )
        self.graphql_errors = Counter(
            "stockql_graphql_errors",
            "GraphQL errors sent to clients, by extensions.code (after masking).",
            ["code"],
            registry=registry,
        )
        self.websocket_connections = Gauge(
            "stockql_websocket_connections",
            "Open GraphQL websocket connections.",
            registry=registry,
        )
        self.subscriptions = Gauge(
            "stockql_graphql_subscriptions",
            "GraphQL subscriptions running now.",
            registry=registry,
        )

        self.events_published = Counter(
            "stockql_events_published",
            "Events this process published, by channel kind.",
            ["kind"],
            registry=registry,
        )
        self.events_delivered = Counter(
            "stockql_events_delivered",
            "Events handed to this process's subscribers (one per subscriber), by channel kind.",
            ["kind"],
            registry=registry,
        )
        self.events_dropped = Counter(
            "stockql_events_dropped",
            "Events a subscriber will never see: replaced by a newer price (superseded) or "
            "lost when a subscriber fell too far behind (overflow).",
            ["kind", "reason"],
            registry=registry,
        )

        self.provider_calls = Counter(
            "stockql_provider_calls",
            "Market data provider calls by provider, operation and outcome.",
            ["provider", "operation", "outcome"],
            registry=registry,
        )
        self.provider_requests = Counter(
            "stockql_provider_requests",
            "HTTP requests sent upstream (retries included), by provider and function.",
            ["provider", "function"],
            registry=registry,
        )
        self.provider_rate_limited = Counter(
            "stockql_provider_rate_limited",
            "Rate-limit answers from upstream, by provider and window (day or short).",
            ["provider", "window"],
            registry=registry,
        )

        self.cache_hits = Counter(
            "stockql_cache_hits",
            "Cache reads that found a value, by kind.",
            ["kind"],
            registry=registry,
        )
        self.cache_misses = Counter(
            "stockql_cache_misses",
            "Cache reads that found nothing (or could not reach the cache), by kind.",
            ["kind"],
            registry=registry,
        )

        self.job_runs = Counter(
            "stockql_job_runs",
            "Runs of the periodic jobs by outcome: ok, failed, or skipped (not the leader).",
            ["job", "outcome"],
            registry=registry,
        )
        self.job_duration = Histogram(
            "stockql_job_duration_seconds",
            "Seconds a periodic job's run took (skipped runs excluded).",
            ["job"],
            buckets=_JOB_BUCKETS,
            registry=registry,
        )

        # Streaming providers (app/adapters/streams): label values are provider names and the
        # feeds' own short problem codes, never message text.
        self.stream_messages = Counter(
            "stockql_stream_messages",
            "Websocket messages received from the streaming provider, by provider.",
            ["provider"],
            registry=registry,
        )
        self.stream_trades = Counter(
            "stockql_stream_trades",
            "Trades received from the streaming provider, by provider.",
            ["provider"],
            registry=registry,
        )
        self.stream_reconnects = Counter(
            "stockql_stream_reconnects",
            "Connections to the streaming provider opened again after a drop, by provider.",
            ["provider"],
            registry=registry,
        )
        self.stream_problems = Counter(
            "stockql_stream_problems",
            "Problems the streaming provider reported or the feed met, by provider and code "
            "(auth, auth_timeout, symbol_limit, connection_limit, slow_client, disconnected...).",
            ["provider", "code"],
            registry=registry,
        )
        self.stream_publish_lag = Histogram(
            "stockql_stream_publish_lag_seconds",
            "Seconds from a trade's own time to its price being published, by provider.",
            ["provider"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )

        self._active_model: Callable[[], str | None] = lambda: None
        registry.register(_ActiveModel(lambda: self._active_model()))

    def count_graphql_error(self, code: str) -> None:
        self.graphql_errors.labels(code).inc()

    def count_response_cache(self, outcome: str) -> None:
        """outcome: hit, miss, stored or bypass (see app/response_cache.py)."""
        self.response_cache.labels(outcome).inc()

    def watch_model(self, active_version: Callable[[], str | None]) -> None:
        """Report `active_version()` at each scrape as stockql_active_model_info{version}
        (no sample while it is None)."""
        self._active_model = active_version

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The registry in the format the `Accept` header asks for (Prometheus text by
        default, OpenMetrics on request) and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class _ActiveModel(Collector):
    """The model version this process predicts with, read when scraped (none: no sample)."""

    def __init__(self, active_version: Callable[[], str | None]) -> None:
        self._active_version = active_version

    def collect(self) -> Iterable[Metric]:
        family = InfoMetricFamily(
            "stockql_active_model",
            "The signal model version this process predicts with.",
            labels=["version"],
        )
        version = self._active_version()
        if version is not None:
            family.add_metric([version], {})
        yield family


def metrics_endpoint(
    metrics: Metrics, *, token: str | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of GET /metrics: `metrics` as Prometheus scrapes it, only to a
    scraper that sends `Authorization: Bearer <token>` when `token` is set."""
    expected = f"Bearer {token}".encode() if token is not None else None

    async def scrape(request: Request) -> Response:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(sent, expected):
                return Response(
                    "a bearer token is needed for /metrics\n",
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="metrics"'},
                )
        body, content_type = metrics.exposition(request.headers.get("accept", ""))
        return Response(body, headers={"content-type": content_type})

    return scrape


@contextmanager
def serving_metrics(metrics: Metrics, *, host: str, port: int | None) -> Iterator[None]:
    """Serve `metrics` at http://host:port/metrics from a thread while the block runs, for a
    process without an HTTP server of its own (the worker); nothing when `port` is None."""
    if port is None:
        yield
        return
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
