"""A PostgreSQL engine reports an unreachable database as domain.errors.DatabaseUnavailable
(UPSTREAM_UNAVAILABLE for clients), not as the driver's many connection errors, which would
reach them as masked internal errors. So are a statement cut by the statement timeout and a
checkout that found no pooled connection in time: the database is too busy to answer now.

Two hooks are needed: connecting fails with plain OSError/TimeoutError, which SQLAlchemy
passes on untouched (no `handle_error` event), while a connection lost mid-statement or a
server that refuses sessions (shutting down, starting up) arrives wrapped, through
`handle_error`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from domain.errors import DatabaseUnavailable

# SQLSTATE classes of a lost or refused session: 08 connection exception; 57P01-57P03
# admin shutdown, crash shutdown, cannot connect now (57014, a cancelled query, is not one).
_LOST_SESSION_STATES = ("08", "57P")
# query_canceled: what the statement timeout raises (a cancelled task raises CancelledError).
_CANCELLED_STATEMENT = "57014"
TOO_SLOW = "The database took too long to answer; try again shortly"
TOO_BUSY = "The database is busy; try again shortly"


class OutageReportingPool(AsyncAdaptedQueuePool):
    """The async engine's default pool, raising DatabaseUnavailable when no connection freed
    up within the pool timeout (SQLAlchemy raises its own TimeoutError, outside handle_error)."""

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except PoolTimeoutError as error:
            raise DatabaseUnavailable(TOO_BUSY) from error


def report_outages(engine: AsyncEngine) -> None:
    """Make `engine` raise DatabaseUnavailable (from the driver's error) when the database
    cannot be reached. Pool pre-pings are left alone: their failure is how a restarted
    server's dead connections get replaced, transparently."""
    event.listen(engine.sync_engine, "do_connect", _connect)
    event.listen(engine.sync_engine, "handle_error", _translate)


def _connect(
    dialect: Dialect, _record: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as error:
        raise DatabaseUnavailable() from error


def _translate(context: ExceptionContext) -> None:
    if context.is_pre_ping:
        return
    error = context.original_exception
    if not isinstance(error, Exception):
        return  # cancellation and exits pass as they are
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    cause = context.sqlalchemy_exception or error
    lost = (
        context.is_disconnect
        or context.connection is None  # failed while connecting
        or isinstance(error, (OSError, TimeoutError))
        or sqlstate.startswith(_LOST_SESSION_STATES)
    )
    if lost:
        raise DatabaseUnavailable() from cause
    if sqlstate == _CANCELLED_STATEMENT:
        raise DatabaseUnavailable(TOO_SLOW) from cause
