"""SQL table rows. Every table lives on SQLModel.metadata, which Alembic compares against.

No `from __future__ import annotations` here: SQLModel reads the annotations at runtime.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, LargeBinary, false, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Explicit constraint names make autogenerate produce the same result on SQLite and PostgreSQL
# (SQLite reflects unnamed constraints without names) and let later migrations drop them by name.
# Table modules must import this one before defining tables so the convention applies to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that reads back as UTC on every database.

    SQLite has no time zone type: values are stored there as naive UTC and get their tzinfo
    back on read. Naive datetimes are refused on write rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002  (the signature SQLAlchemy calls)
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # asyncpg already returns UTC; other offsets only appear with other drivers.
        return value if value.tzinfo is UTC else value.astimezone(UTC)


class BarRow(SQLModel, table=True):
    """One OHLCV bar; `interval` holds domain.market.Interval values ("daily", "5min", ...);
    `trades` (trade count) and `vwap` only for MIN1 bars built from streamed trades."""

    __tablename__ = "bars"

    symbol: str = Field(primary_key=True, max_length=10)
    interval: str = Field(primary_key=True, max_length=10)
    ts: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    open: float
    high: float
    low: float
    close: float
    volume: float
    source: str = Field(max_length=32)
    # Only bars aggregated from a stream's trades (MIN1) know these; others leave them NULL.
    trades: int | None = None
    vwap: float | None = None


class BarFetchRow(SQLModel, table=True):
    """When a symbol's bars of one interval were last written, and by which source (the
    series' only one; see domain.bar_store.FetchRecord); `refresh_due` after a clearCache."""

    __tablename__ = "bar_fetches"

    symbol: str = Field(primary_key=True, max_length=10)
    interval: str = Field(primary_key=True, max_length=10)
    fetched_at: datetime = Field(sa_type=UtcDateTime)
    source: str = Field(max_length=32)
    refresh_due: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class UserRow(SQLModel, table=True):
    """An account (domain.users.User). `email_key` is email_key(email): its unique constraint
    is what makes emails unique case-insensitively, also between concurrent sign-ups."""

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    email: str = Field(max_length=320)
    email_key: str = Field(max_length=320, unique=True)
    role: str = Field(max_length=10)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UtcDateTime)
    # Symbols in the order they were added. JSON keeps that order on SQLite and PostgreSQL alike;
    # the list is small (MAX_WATCHLIST) and always read and written whole.
    watchlist: list[str] = Field(default_factory=list, sa_type=JSON)
    token_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(sa_type=UtcDateTime)


class AlertRow(SQLModel, table=True):
    """A user's alert (domain.alerts.Alert). `user_id` is a plain key, no foreign key: users may
    live in MongoDB. `condition` and `frequency` hold the enum names; `last_value` is the
    crossing state."""

    __tablename__ = "alerts"
    # Price events look up the active alerts of one symbol.
    __table_args__ = (Index("ix_alerts_symbol_active", "symbol", "active"),)

    id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(max_length=32, index=True)
    symbol: str = Field(max_length=10)
    condition: str = Field(max_length=32)
    threshold: float | None = None
    frequency: str = Field(max_length=16)
    active: bool
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_triggered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_value: float | None = None
    created_at: datetime = Field(sa_type=UtcDateTime)


class NotificationRow(SQLModel, table=True):
    """A user's notification (domain.notifications.Notification); `type` holds the enum name."""

    __tablename__ = "notifications"
    # A user's notifications newest first; the index also serves every lookup by user_id.
    __table_args__ = (Index("ix_notifications_user_id_created_at", "user_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(max_length=32)
    type: str = Field(max_length=32)
    symbol: str | None = Field(default=None, max_length=10)
    message: str = Field(max_length=1000)
    data: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    read: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)


class PredictionRow(SQLModel, table=True):
    """A stored prediction (domain.predictions.Prediction) with its signal flattened; enums
    hold their names. JSON: `probabilities` {buy, hold, sell}, `reasons` [{code, description}]
    in the signal's order, `indicators` the IndicatorSnapshot fields (None when warming up)."""

    __tablename__ = "predictions"
    # A symbol's predictions newest first.
    __table_args__ = (Index("ix_predictions_symbol_created_at", "symbol", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    symbol: str = Field(max_length=10)
    recommendation: str = Field(max_length=4)
    confidence: float
    probabilities: dict[str, Any] = Field(sa_type=JSON)
    method: str = Field(max_length=5)
    model_version: str | None = Field(default=None, max_length=64)
    horizon_days: int
    price: float
    as_of: datetime = Field(sa_type=UtcDateTime)
    reasons: list[dict[str, Any]] = Field(sa_type=JSON)
    indicators: dict[str, Any] = Field(sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)


class ModelRow(SQLModel, table=True):
    """A trained model version (domain.predictions.StoredModel): its card in `info`
    (ModelInfo.to_dict(), whose algorithm and trained_at are repeated as columns) and its skops
    artifact."""

    __tablename__ = "models"
    # At most one active model, enforced by the database whatever its writers do; inactive rows
    # stay out of this partial unique index. SQLite and PostgreSQL both support partial
    # indexes; each dialect takes its own where clause.
    __table_args__ = (
        Index(
            "uq_models_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    version: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=64)
    trained_at: datetime = Field(sa_type=UtcDateTime)
    info: dict[str, Any] = Field(sa_type=JSON)
    artifact: bytes = Field(sa_type=LargeBinary)
    active: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)
