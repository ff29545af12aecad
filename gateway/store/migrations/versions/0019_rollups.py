"""Read-side summaries: each machine's figures per local day, the marks of stale days, the watermarks.

Revision ID: 0019_rollups
Revises: 0018_sites
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_rollups"
down_revision = "0018_sites"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RAW_TABLES = ("state_changes", "cycles", "part_counts", "alarms", "messages")  # as ``summaries_repo.RAW``
SECONDS = (
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
    op.create_table(
        "machine_days",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in SECONDS),
        sa.Column("cycles", BIG, nullable=False),
        sa.Column("made", BIG, nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("paced", sa.JSON(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_machine_days_machine_id_machines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("machine_id", "day", name=op.f("pk_machine_days")),
    )
    op.create_table(
        "session_cycles",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("first", sa.Date(), nullable=False),
        sa.Column("last", sa.Date(), nullable=False),
        sa.Column("cycles", sa.JSON(), nullable=False),
        sa.Column("parts", BIG, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["work_sessions.id"],
            name=op.f("fk_session_cycles_session_id_work_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_cycles")),
    )
    op.create_table(
        "summary_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(63), nullable=True),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("first", sa.Date(), nullable=True),
        sa.Column("last", sa.Date(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_marks")),
    )
    op.create_table(
        "summary_watermarks",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("low", BIG, nullable=False),
        sa.Column("high", BIG, nullable=False),
        sa.Column("moved", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_summary_watermarks")),
    )
    # No summary exists yet: every row already stored is accounted for (no ingest runs while migrating).
    for source in RAW_TABLES:
        op.execute(
            "INSERT INTO summary_watermarks (source, low, high, moved) "
            f"SELECT '{source}', COALESCE(MAX(id), 0), COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM {source}"
        )
    op.execute(
        "INSERT INTO summary_watermarks (source, low, high, moved) VALUES ('summary_marks', 0, 0, CURRENT_TIMESTAMP)"
    )


def downgrade() -> None:
    op.drop_table("summary_watermarks")
    op.drop_table("summary_marks")
    op.drop_table("session_cycles")
    op.drop_table("machine_days")
