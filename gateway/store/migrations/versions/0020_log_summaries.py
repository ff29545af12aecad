"""What a practice log line needs of a finished session, kept with its cycles: its stops, the first good cycle.

Revision ID: 0020_log_summaries
Revises: 0019_rollups
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_log_summaries"
down_revision = "0019_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a row stored before (or a session whose days are not over yet) has them computed at read time.
    with op.batch_alter_table("session_cycles") as batch:
        batch.add_column(sa.Column("stops", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("first_good", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("order_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_cycles") as batch:
        batch.drop_column("order_since")
        batch.drop_column("first_good")
        batch.drop_column("stops")
