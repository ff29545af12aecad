"""A finished session's totals kept with its cycles: a practice log drawn from them reads no cycle.

Revision ID: 0021_session_totals
Revises: 0020_log_summaries
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_session_totals"
down_revision = "0020_log_summaries"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# ``domain.session_totals.SessionTotals``, one column a field.
COLUMNS = (
    ("cycle_s", sa.Float()),
    ("completed", BIG),
    ("completed_s", sa.Float()),
    ("best_s", sa.Float()),
    ("indexed_s", sa.Float()),
    ("paces", BIG),
    ("pace_s", sa.Float()),
    ("indexed_pace_s", sa.Float()),
    ("first_id", BIG),
    ("first_started", sa.DateTime(timezone=True)),
    ("first_ended", sa.DateTime(timezone=True)),
    ("first_parts", BIG),
    ("last_id", BIG),
    ("last_ended", sa.DateTime(timezone=True)),
    ("earliest_started", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    # Nullable: a row stored before has them completed from its cycles by the first log that reads it.
    with op.batch_alter_table("session_cycles") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_cycles") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
