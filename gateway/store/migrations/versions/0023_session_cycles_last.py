"""``session_cycles``: its ``cycles`` JSON stored last, after the small columns.

A kept row's cycles are the JSON of every cycle of the session (7 kB on average, overflowing its page). SQLite
stores a row's columns in order, so every column added after ``cycles`` (its parts, 0020's stops, 0021's
totals) was reached by walking the row's overflow pages: the orders CSV reading every session's parts, and the
practice logs reading their totals, paid for the cycles they never decode (21 ms for a year's 5,676 rows where
3.6 ms reads the columns alone). The table is rebuilt on SQLite with ``cycles`` at the end, its rows kept.
PostgreSQL keeps a large value out of line (TOAST) whatever its place: nothing to do there.

Revision ID: 0023_session_cycles_last
Revises: 0022_month_sums
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_session_cycles_last"
down_revision = "0022_month_sums"
branch_labels = None
depends_on = None


def _order(cycles_last: bool) -> tuple[str, ...]:
    names = [c["name"] for c in sa.inspect(op.get_bind()).get_columns("session_cycles")]
    rest = [n for n in names if n != "cycles"]
    return (*rest, "cycles") if cycles_last else (*rest[:4], "cycles", *rest[4:])


def _rebuild(cycles_last: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("session_cycles", recreate="always", partial_reordering=[_order(cycles_last)]) as batch:
        batch.alter_column("cycles", existing_type=sa.JSON())


def upgrade() -> None:
    _rebuild(cycles_last=True)


def downgrade() -> None:
    _rebuild(cycles_last=False)
