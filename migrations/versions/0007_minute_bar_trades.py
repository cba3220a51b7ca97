"""bars.trades and bars.vwap: the trade count and VWAP of streamed minute bars (MIN1)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 01:40:00.000000+00:00

Bars fetched from a provider's history leave both NULL; only the minute bars the worker
builds from a streaming provider's trades (or takes from its own bar messages) have them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bars") as batch:
        batch.add_column(sa.Column("trades", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("vwap", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bars") as batch:
        batch.drop_column("vwap")
        batch.drop_column("trades")
