"""Settings: read once from STOCKQL_* environment variables into one frozen, typed object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.tokens import MIN_SECRET_BYTES

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "TSLA")


class Settings(BaseSettings):
    # An empty variable (`STOCKQL_WORKER_METRICS_PORT=`, as compose files and shells leave them)
    # means unset: the default applies instead of a parse error at start-up.
    model_config = SettingsConfigDict(
        env_prefix="STOCKQL_", frozen=True, extra="ignore", env_ignore_empty=True
    )

    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # `serve` processes on the port: a number, or "auto" for one per CPU (needs Redis past 1).
    serve_workers: str = Field(default="1", pattern=r"^(auto|[1-9][0-9]*)$")
    log_level: str = "info"
    # One JSON object per line; None: console (readable) lines in development, JSON elsewhere.
    log_format: Literal["json", "console"] | None = None
    # `stockql worker` serves its metrics at http://STOCKQL_HOST:PORT/metrics when set.
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # `serve`'s GET /metrics asks for `Authorization: Bearer <token>` when set; in production it
    # is not served without one.
    metrics_token: SecretStr | None = None

    database_url: str = "sqlite+aiosqlite:///./stockql.db"
    # PostgreSQL: how long a request waits for one of the pooled connections, and how long
    # one statement may run, before it fails with UPSTREAM_UNAVAILABLE instead of hanging.
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    redis_url: str | None = None
    # Commands beyond this many at once wait up to the timeout for a pooled connection.
    redis_max_connections: int = Field(default=64, ge=1)
    redis_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    mongodb_url: str | None = None

    # None picks alphavantage when its key is set, else alpaca when its keys are, else the
    # simulator.
    provider: Literal["simulator", "alphavantage", "csv", "alpaca"] | None = None
    alphavantage_api_key: SecretStr | None = None
    alphavantage_base_url: str = "https://www.alphavantage.co/query"
    alphavantage_calls_per_minute: int = Field(default=5, ge=1)
    alphavantage_calls_per_day: int = Field(default=25, ge=1)
    alphavantage_timeout_seconds: float = Field(default=10.0, gt=0)
    alphavantage_max_retries: int = Field(default=3, ge=0, le=10)
    # Premium plans get full daily history (outputsize=full); free plans get the last 100 days.
    alphavantage_premium: bool = False

    # Live prices and minute bars (MIN1) from a streaming provider's websocket, run by the
    # leading worker (README, "Streaming market data"); None: the worker polls quotes.
    stream_provider: Literal["alpaca", "finnhub"] | None = None
    alpaca_key_id: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
    # "iex" is the free feed; "sip" (every US exchange) needs a paid plan.
    alpaca_feed: Literal["iex", "sip"] = "iex"
    # None: wss://stream.data.alpaca.markets/v2/{alpaca_feed}.
    alpaca_stream_url: str | None = None
    alpaca_max_symbols: int = Field(default=30, ge=1)
    # STOCKQL_PROVIDER=alpaca: history and latest prices from Alpaca's REST API.
    alpaca_data_url: str = "https://data.alpaca.markets"
    alpaca_timeout_seconds: float = Field(default=10.0, gt=0)
    finnhub_api_key: SecretStr | None = None
    finnhub_stream_url: str = "wss://ws.finnhub.io"
    finnhub_max_symbols: int = Field(default=50, ge=1)
    stream_auth_timeout_seconds: float = Field(default=10.0, gt=0)
    stream_heartbeat_seconds: float = Field(default=30.0, gt=0)
    stream_reconnect_first_seconds: float = Field(default=1.0, gt=0)
    stream_reconnect_max_seconds: float = Field(default=60.0, gt=0)
    # After a fatal problem (a refused key) the stream is tried again only this much later.
    stream_restart_seconds: float = Field(default=300.0, gt=0)
    # Minute bars are written this often; the tracked symbols are followed again this often.
    stream_flush_seconds: float = Field(default=1.0, gt=0)
    stream_follow_seconds: float = Field(default=5.0, gt=0)

    symbols: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SYMBOLS
    # Symbols besides `symbols` followed live at once while someone subscribes to them (each
    # costs provider calls); a subscription to one more is refused with RATE_LIMITED.
    max_live_symbols: int = Field(default=20, ge=0)
    # With Redis: a replica that stops renewing (a crash) keeps its live symbols tracked
    # this long.
    live_symbol_lease_seconds: float = Field(default=30.0, ge=1)
    simulator_seed: int = 42
    simulator_tick_seconds: float = Field(default=1.0, gt=0)
    # The csv provider reads {SYMBOL}.csv (daily) and {SYMBOL}_{interval}.csv files from here.
    csv_directory: str = "./data"

    quote_ttl_seconds: float = Field(default=15.0, gt=0)
    daily_ttl_seconds: float = Field(default=3600.0, gt=0)
    intraday_ttl_seconds: float = Field(default=60.0, gt=0)
    search_ttl_seconds: float = Field(default=86400.0, gt=0)
    # A symbol the provider said it does not know is NOT_FOUND without asking it again for
    # this long (each ask costs a provider call).
    unknown_symbol_ttl_seconds: float = Field(default=900.0, gt=0)
    # After a provider failure, stored history is served (stale) this long before the
    # provider is tried again.
    stale_ttl_seconds: float = Field(default=30.0, gt=0)
    # None: the worker polls quotes every simulator tick, or as often as the Alpha Vantage
    # budget allows but at most once a minute.
    quote_poll_seconds: float | None = Field(default=None, gt=0)

    # Worker: how often to look for a new daily bar after the close, and what to keep.
    daily_refresh_check_minutes: float = Field(default=30.0, gt=0)
    cleanup_interval_hours: float = Field(default=6.0, gt=0)
    retention_intraday_days: int = Field(default=45, ge=1)
    retention_notifications_days: int = Field(default=90, ge=1)
    retention_predictions_days: int = Field(default=365, ge=1)
    # The model is retrained on the tracked symbols' stored history this often (the first
    # run comes one interval after the worker starts, not at start-up).
    retrain_interval_hours: float = Field(default=24 * 7, gt=0)
    # Every api process and worker loads a newly activated model when it is announced on the
    # event bus, and checks the active version this often for announcements it missed (Redis
    # down; the in-process bus does not reach other processes).
    model_check_seconds: float = Field(default=10.0, gt=0)
    # A dead leader's jobs resume on a standby worker within about this long.
    leader_lease_seconds: float = Field(default=10.0, ge=1)

    # `serve` and `worker`: the garbage collector's young-generation threshold (CPython's own
    # is 700; see app/garbage_collection.py).
    gc_young_threshold: int = Field(default=50_000, ge=100)

    max_history_rows: int = Field(default=20_000, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # A request's head and body must arrive within this long (slow clients; app/http_protocol.py),
    # a head within this size; an idle keep-alive connection is closed after keep_alive_seconds.
    request_read_timeout_seconds: float = Field(default=10.0, gt=0)
    max_request_head_bytes: int = Field(default=64 * 1024, ge=4096)
    keep_alive_seconds: int = Field(default=5, ge=1)
    # Whole responses of PUBLIC queries, per their fields' @cacheControl hints: in Redis when
    # configured, else in memory up to max_bytes; larger responses are not kept.
    response_cache: bool = True
    # Users read by id (every signed-in request's token) are kept in process this long at
    # most, while their stamp in the shared cache is unchanged (domain/user_cache.py); 0: off.
    user_cache_seconds: float = Field(default=10.0, ge=0)
    # A manifest of hash -> document: only those documents run over HTTP (sent by hash or in
    # full); unset, any document runs and Automatic Persisted Queries register new ones.
    trusted_documents: Path | None = None
    response_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    response_cache_max_entry_bytes: int = Field(default=1024 * 1024, ge=0)
    max_query_depth: int = Field(default=12, ge=1)
    max_query_tokens: int = Field(default=4000, ge=10)
    max_query_aliases: int = Field(default=30, ge=1)
    # The values (response leaves) an operation may return at most, bars times fields, summed
    # over aliases (graphql_schema/query_cost.py); larger ones get QUERY_TOO_EXPENSIVE.
    max_query_cost: int = Field(default=500_000, ge=1000)

    # None in development: a random secret per process (tokens die with the process).
    jwt_secret: SecretStr | None = None
    # Browser origins allowed to open websockets (others are refused); non-browser clients
    # send no Origin and are always allowed.
    ws_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Browser origins whose pages may call /graphql over HTTP (CORS); "*" allows any. None
    # allows pages on this machine (localhost, any port) in development and none elsewhere.
    cors_allowed_origins: Annotated[tuple[str, ...] | None, NoDecode] = None
    ws_connection_init_timeout_seconds: float = Field(default=10.0, gt=0)
    ws_max_subscriptions: int = Field(default=50, ge=1)
    # An open websocket's token is checked this often (and when it expires): a revoked
    # token's connection is closed (4401) within about this long.
    ws_token_check_seconds: float = Field(default=30.0, gt=0)
    # Shared subscription events written as one frame straight to the socket
    # (app/websocket_protocol.py); off: every frame through ASGI and uvicorn's own protocol.
    ws_direct_writes: bool = True
    jwt_lifetime_minutes: int = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    # Argon2id cost; None keeps argon2-cffi's RFC 9106 low-memory profile.
    password_time_cost: int | None = Field(default=None, ge=1)
    password_memory_kib: int | None = Field(default=None, ge=64)
    # Login throttling (README, "Login throttling"): wrong passwords per email and address
    # before that address waits, doubling from the base up to the maximum; distinct failing
    # addresses per email before addresses that never signed in to it are refused; how long
    # failures and signed-in addresses are remembered; attempts per address (any email).
    login_free_failures: int = Field(default=5, ge=0)
    login_backoff_base_seconds: float = Field(default=2.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)
    login_addresses_per_email: int = Field(default=100, ge=1)
    login_failure_window_seconds: int = Field(default=3600, ge=1)
    login_remember_address_days: int = Field(default=90, ge=1)
    login_limit_per_address: int = Field(default=50, ge=1)
    register_limit_per_email: int = Field(default=5, ge=1)
    register_limit_per_address: int = Field(default=20, ge=1)
    # Anonymous predict calls per client address and minute (signed-in users are not limited).
    predict_limit_per_address: int = Field(default=30, ge=1)
    # Only behind a proxy that sets it: otherwise clients could pick their own address.
    trust_forwarded_for: bool = False
    graphiql: bool | None = None
    # The built dashboard and GraphiQL (`make web`); None: web/dist beside the app package.
    web_directory: Path | None = None
    # None answers introspection (__schema, __type) everywhere but in production.
    introspection: bool | None = None
    # On SIGTERM/SIGINT, requests in flight get this long to finish before they are cancelled.
    shutdown_timeout_seconds: int = Field(default=20, ge=1)
    # None migrates the database on start-up when it is SQLite (the embedded default).
    migrate_on_start: bool | None = None
    # None runs the worker jobs inside `serve` when there is no Redis (the embedded default).
    worker_in_process: bool | None = None

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().upper() for part in value.split(",") if part.strip())
        return value

    @field_validator("ws_allowed_origins", "cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # docker compose passes an optional variable left empty in .env as "".
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env != "production":
            return self
        if self.database_url.startswith("sqlite"):
            raise ValueError("STOCKQL_DATABASE_URL must name a server database in production")
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"STOCKQL_JWT_SECRET must be set to at least {MIN_SECRET_BYTES} random bytes "
                "in production, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        token = self.metrics_token.get_secret_value() if self.metrics_token else ""
        if token and len(token.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"STOCKQL_METRICS_TOKEN must be at least {MIN_SECRET_BYTES} random bytes "
                "in production"
            )
        return self

    @property
    def resolved_provider(self) -> Literal["simulator", "alphavantage", "csv", "alpaca"]:
        if self.provider is not None:
            return self.provider
        if self.alphavantage_api_key:
            return "alphavantage"
        if self.alpaca_key_id and self.alpaca_secret_key:
            return "alpaca"
        return "simulator"

    @property
    def stream_max_symbols(self) -> int | None:
        """How many symbols the configured stream follows at most (None: no stream)."""
        if self.stream_provider == "alpaca":
            return self.alpaca_max_symbols
        if self.stream_provider == "finnhub":
            return self.finnhub_max_symbols
        return None

    @property
    def resolved_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "console" if self.env == "development" else "json"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.env != "production"

    @property
    def serves_metrics(self) -> bool:
        """Whether `serve` answers GET /metrics (behind metrics_token when that is set)."""
        return self.metrics_token is not None or self.env != "production"

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return self.env != "production"

    @property
    def allows_local_cors(self) -> bool:
        """Whether pages served from this machine may call the API (the development default)."""
        return self.cors_allowed_origins is None and self.env == "development"

    @property
    def migrates_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.database_url.startswith("sqlite")

    @property
    def runs_worker_in_process(self) -> bool:
        if self.worker_in_process is not None:
            return self.worker_in_process
        return self.redis_url is None
