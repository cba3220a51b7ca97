"""bars and bar fetches

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:45:17.906396+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The primary key (symbol, interval, ts) also serves range loads and latest-bar lookups.
    op.create_table(
        "bars",
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "interval", "ts", name=op.f("pk_bars")),
    )
    op.create_table(
        "bar_fetches",
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "interval", name=op.f("pk_bar_fetches")),
    )


def downgrade() -> None:
    op.drop_table("bar_fetches")
    op.drop_table("bars")
