"""Each machine's figures per local month: its days' summaries added up, so a year reads 12 rows, not 365.

Revision ID: 0022_month_sums
Revises: 0021_session_totals
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_month_sums"
down_revision = "0021_session_totals"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SECONDS = (  # as ``machine_days``
    "window_s",
    "running_s",
    "held_s",
    "alarm_s",
    "idle_s",
    "offline_s",
    "calendar_s",
    "planned_running_s",
    "unplanned_running_s",
    "planned_held_s",
    "planned_alarm_s",
    "planned_idle_s",
    "planned_offline_s",
)


def upgrade() -> None:
    # No ``final`` column: a month is always rebuilt from its day rows (which retention keeps, final), so a
    # stale one is simply deleted. Empty at first: readers and the hourly job fill it.
    op.create_table(
        "machine_months",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),  # its first day
        *(sa.Column(name, sa.Float(), nullable=False) for name in SECONDS),
        sa.Column("cycles", BIG, nullable=False),
        sa.Column("made", BIG, nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("paced", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_machine_months_machine_id_machines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("machine_id", "month", name=op.f("pk_machine_months")),
    )


def downgrade() -> None:
    op.drop_table("machine_months")
