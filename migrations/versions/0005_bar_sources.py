"""one source per bar series; refresh after clearCache

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:30:00.000000+00:00

Before this revision a provider fetch could write simulated bars into a series that held
imported or real bars (training on an imported symbol with the simulator as provider did),
so one (symbol, interval) could mix sources. From now on a series has one source, the one
its bar_fetches row names. This revision removes the simulated bars of every series that
also holds bars of another source (simulated bars are a deterministic function of seed and
symbol: nothing is lost that the simulator cannot make again) and points such a series'
fetch record at the source that remains. Series that mix two real sources are left as they
are: which one is right cannot be told here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIMULATED = "simulator"

bars = sa.table(
    "bars", sa.column("symbol"), sa.column("interval"), sa.column("ts"), sa.column("source")
)
fetches = sa.table("bar_fetches", sa.column("symbol"), sa.column("interval"), sa.column("source"))


def _same_series(other: sa.TableClause, row: sa.TableClause) -> sa.ColumnElement[bool]:
    return sa.and_(other.c.symbol == row.c.symbol, other.c.interval == row.c.interval)


def upgrade() -> None:
    op.add_column(
        "bar_fetches",
        sa.Column("refresh_due", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    real = bars.alias("real")
    op.execute(
        bars.delete().where(
            bars.c.source == SIMULATED,
            sa.exists().where(_same_series(real, bars), real.c.source != SIMULATED),
        )
    )
    stored = bars.alias("stored")
    remaining = (
        sa.select(sa.func.min(stored.c.source)).where(_same_series(stored, fetches)).scalar_subquery()
    )
    op.execute(
        fetches.update()
        .where(
            fetches.c.source == SIMULATED,
            sa.exists().where(_same_series(stored, fetches)),
            ~sa.exists().where(_same_series(stored, fetches), stored.c.source == SIMULATED),
        )
        .values(source=remaining)
    )


def downgrade() -> None:
    # The deleted simulated bars are not restored: the simulator makes them again on demand.
    with op.batch_alter_table("bar_fetches") as batch:
        batch.drop_column("refresh_due")
