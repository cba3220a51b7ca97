"""The `stockql` command line."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from uvicorn.config import STARTUP_FAILURE

from app import signals_cli
from app.garbage_collection import tune_garbage_collector
from app.logs import configure_logging
from app.settings import Settings

log = logging.getLogger(__name__)

cli = typer.Typer(
    help="StockQL: a GraphQL API for stock market data and trading signals.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        # One line per problem, naming the variable: a traceback would bury the message
        # (and pydantic's own text repeats every input value, secrets included).
        for problem in error.errors():
            typer.echo(f"stockql: {_settings_problem(problem)}", err=True)
        raise typer.Exit(2) from None
    configure_logging(level=settings.log_level, log_format=settings.resolved_log_format)
    return settings


def _settings_problem(problem: ErrorDetails) -> str:
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:
        return message  # a check across settings names its variables itself
    variable = "STOCKQL_" + str(problem["loc"][0]).upper()
    return f"{variable}: {message}"


@cli.command()
def serve(
    host: str | None = typer.Option(None, help="Defaults to STOCKQL_HOST (127.0.0.1)."),
    port: int | None = typer.Option(None, help="Defaults to STOCKQL_PORT (8000)."),
    workers: str | None = typer.Option(
        None,
        help="Server processes on the port: a number, or 'auto' for one per CPU. Defaults "
        "to STOCKQL_SERVE_WORKERS (1). More than one needs STOCKQL_REDIS_URL.",
    ),
) -> None:
    """Run the API server (GraphiQL at /graphql)."""
    from app.serving_processes import check_workers, worker_count

    settings = _settings()  # first: bad settings are reported before the app is imported
    try:
        count = worker_count(workers or settings.serve_workers)
        check_workers(settings, count)
        if settings.trusted_documents is not None:
            from app.persisted_queries import load_trusted_documents

            load_trusted_documents(settings.trusted_documents)  # read again by each process
    except ValueError as error:
        typer.echo(f"stockql: {error}", err=True)
        raise typer.Exit(2) from None
    host = host or settings.host
    port = port if port is not None else settings.port
    status = (
        run_server(settings, host, port)
        if count == 1
        else _serve_in_processes(settings, host, port, count)
    )
    if status:
        raise typer.Exit(status)


def run_server(
    settings: Settings, host: str, port: int, sockets: list[socket.socket] | None = None
) -> int:
    """One server process (on `sockets` when a supervisor bound them); its exit status."""
    from app.main import create_app
    from app.server_config import uvicorn_config
    from app.shutdown import GracefulServer, InFlightRequests, OpenWebSockets

    websockets, requests = OpenWebSockets(), InFlightRequests()
    config = uvicorn_config(
        create_app(settings, websockets=websockets, requests=requests),
        settings,
        host=host,
        port=port,
        log_level=settings.log_level,
        # Keeps configure_logging's handlers: uvicorn's own config would add plain-text ones.
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    server = GracefulServer(config, websockets=websockets, requests=requests)
    tune_garbage_collector(settings.gc_young_threshold)
    server.run(sockets)
    return 0 if server.started else STARTUP_FAILURE


def _serve_in_processes(settings: Settings, host: str, port: int, count: int) -> int:
    from app.serving_processes import Supervisor, listening_sockets

    if settings.migrates_on_start:
        # Once, here: N children migrating one SQLite file at once would race.
        from app.migrate import upgrade_database

        upgrade_database(settings.database_url)
        os.environ["STOCKQL_MIGRATE_ON_START"] = "false"  # inherited by the children
    if settings.jwt_secret is None:
        # Per-process secrets would make a token from one process invalid on the others.
        log.warning("STOCKQL_JWT_SECRET is not set: tokens are signed with a secret made now")
        os.environ["STOCKQL_JWT_SECRET"] = secrets.token_urlsafe(48)
    try:
        sockets = listening_sockets(host, port, count)
    except OSError as error:
        typer.echo(f"stockql: cannot listen on {host}:{port}: {error.strerror}", err=True)
        return STARTUP_FAILURE
    target = functools.partial(_serve_child, host, port)
    return Supervisor(target, sockets, settings.shutdown_timeout_seconds).run(count)


def _serve_child(host: str, port: int, sock: socket.socket) -> None:
    """One of `serve --workers N`'s processes (spawned: it reads the settings again)."""
    settings = _settings()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(run_server(settings, host, port, [sock]))


@cli.command()
def worker() -> None:
    """Run the scheduled jobs (price polling) without serving the API."""
    from app.metrics import Metrics, serving_metrics
    from app.runtime import open_runtime
    from app.shutdown import until_stop_signal
    from app.worker import running_worker
    from domain.indicators import load_library as load_indicator_library

    settings = _settings()
    tune_garbage_collector(settings.gc_young_threshold)
    # The worker computes indicators from its first ticks: it pays TA-Lib's and pandas'
    # memory before it is up, so its RSS stays flat afterwards (serve imports them lazily).
    load_indicator_library()

    async def run() -> None:
        metrics = Metrics()
        port = settings.worker_metrics_port
        # Leaving the blocks on SIGTERM/SIGINT stops the jobs and frees the leadership.
        async with open_runtime(settings, metrics=metrics) as runtime, running_worker(runtime):
            with serving_metrics(metrics, host=settings.host, port=port):
                await until_stop_signal()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@cli.command()
def migrate(
    check: bool = typer.Option(False, help="Fail when the models and migrations differ."),
) -> None:
    """Upgrade the database to the newest migration."""
    from app.migrate import check_database, upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    if check:
        check_database(settings.database_url)
    typer.echo("database is up to date")


@cli.command("import-csv")
def import_csv(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    symbol: str = typer.Option(..., help="Ticker the bars belong to."),
    interval: str = typer.Option("daily", help="daily, 1min, 5min, 15min, 30min or 60min."),
) -> None:
    """Import bars (date/timestamp, open, high, low, close, volume) from a CSV file.
    All rows or none: bad rows are listed with their line numbers. The import becomes the
    symbol's only source for that interval: bars stored from another source are replaced,
    and no provider (the simulator included) writes over it afterwards."""
    import redis.asyncio as aioredis

    from app.adapters.cache import RedisCache
    from app.adapters.csv_bars import IMPORT_SOURCE, CsvImportError, parse_bar_csv
    from app.adapters.response_stores import RedisResponseStore
    from app.adapters.sql.bar_store import SqlBarStore
    from app.adapters.sql.database import create_engine
    from app.migrate import upgrade_database
    from domain.bar_store import FetchRecord
    from domain.errors import InvalidInput
    from domain.market import Interval
    from domain.symbols import normalize_symbol

    settings = _settings()
    try:
        ticker = normalize_symbol(symbol)
        bar_interval = Interval(interval)
    except (InvalidInput, ValueError) as error:
        raise typer.BadParameter(str(error)) from error
    try:
        bars = parse_bar_csv(path.read_text(encoding="utf-8-sig"))
    except CsvImportError as error:
        for line, problem in error.problems:
            typer.echo(f"{path}:{line}: {problem}", err=True)
        typer.echo(f"nothing imported: {len(error.problems)} bad rows", err=True)
        raise typer.Exit(1) from error

    async def store() -> tuple[int, str | None]:
        """The bars written, and the other source whose bars they replaced."""
        engine = create_engine(settings.database_url)
        try:
            bar_store = SqlBarStore(engine)
            before = await bar_store.last_fetch(ticker, bar_interval)
            written = await bar_store.upsert_bars(
                ticker, bar_interval, bars, source=IMPORT_SOURCE, replace_other_sources=True
            )
            if not written:
                return 0, None
            await bar_store.record_fetch(
                FetchRecord(ticker, bar_interval, datetime.now(UTC), IMPORT_SOURCE)
            )
            replaced = before.source if before and before.source != IMPORT_SOURCE else None
            return written, replaced
        finally:
            await engine.dispose()

    async def clear_cached() -> None:
        # Servers sharing this Redis would serve their cached copy of the symbol (simulated
        # bars, say) until it expires; without Redis, clearCache does this in each server
        # (else their history responses show the import within history's max age).
        client = aioredis.from_url(settings.redis_url) if settings.redis_url else None
        if client is None:
            return
        try:
            await RedisCache(client).clear_symbol(ticker)
            await RedisResponseStore(client, max_entry_bytes=0).invalidate(ticker)
        finally:
            await client.aclose()

    if settings.migrates_on_start:
        upgrade_database(settings.database_url)
    written, replaced = asyncio.run(store())
    if written:
        asyncio.run(clear_cached())
    span = f" ({bars[0].timestamp.date()} .. {bars[-1].timestamp.date()})" if bars else ""
    typer.echo(f"imported {written} {bar_interval.value} bars of {ticker}{span}")
    if replaced:
        typer.echo(f"replaced the {replaced} bars stored for {ticker} {bar_interval.value}")


@cli.command()
def schema(
    output: Path | None = typer.Option(None, help="Write the SDL here instead of printing it."),
) -> None:
    """Print (or write) the GraphQL SDL of the API."""
    from graphql_schema.schema import export_sdl

    sdl = export_sdl()
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl, encoding="utf-8")


cli.command()(signals_cli.train)
cli.command()(signals_cli.backtest)
cli.command()(signals_cli.evaluate)

users_cli = typer.Typer(help="Manage accounts.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")


@users_cli.command("create-admin")
def create_admin(
    email: str = typer.Option(..., help="The administrator's email address."),
    name: str = typer.Option(..., help="The administrator's display name."),
) -> None:
    """Create an ADMIN account. The password is asked for, or read from standard input
    when that is not a terminal (e.g. `echo "$PASSWORD" | stockql users create-admin ...`)."""
    from app.runtime import open_runtime
    from domain.accounts import EmailAlreadyUsed
    from domain.errors import ValidationFailed

    settings = _settings()
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def create() -> str:
        async with open_runtime(settings) as runtime:
            accounts = runtime.services.accounts
            user = await accounts.create_admin(name=name, email=email, password=password)
            return user.id

    try:
        user_id = asyncio.run(create())
    except ValidationFailed as error:
        for problem in error.problems:
            typer.echo(f"{problem.field}: {problem.message}", err=True)
        raise typer.Exit(1) from None
    except EmailAlreadyUsed:
        typer.echo("an account with this email already exists", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created admin {user_id}")


def main() -> None:
    cli()
