"""Initial schema: agents, machines, received messages, state changes, cycles, parts, alarms, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(column: str, table: str, owner: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "agents",
        _id(),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        _ts("last_seen"),
        sa.Column("contiguous_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("site", "name", name=op.f("uq_agents_site_name")),
    )
    op.create_table(
        "dead_letters",
        _id(),
        _ts("received_at"),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"])
    op.create_table(
        "machines",
        _id(),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("last_state", sa.JSON(), nullable=True),
        sa.Column("last_state_seq", sa.Integer(), nullable=True),
        _ts("last_state_ts", nullable=True),
        sa.Column("part_counter", sa.Integer(), nullable=True),
        _fk("agent_id", "agents", "machines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint("site", "name", name=op.f("uq_machines_site_name")),
    )
    op.create_index(op.f("ix_machines_agent_id"), "machines", ["agent_id"])
    _create_history_tables()


def _create_history_tables() -> None:
    op.create_table(
        "messages",
        _id(),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        _ts("ts"),
        _ts("received_at"),
        _fk("agent_id", "agents", "messages"),
        _fk("machine_id", "machines", "messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("agent_id", "seq", name=op.f("uq_messages_agent_id_seq")),
    )
    op.create_table(
        "state_changes",
        _id(),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        _ts("ts"),
        sa.Column("availability", sa.String(length=16), nullable=False),
        sa.Column("execution", sa.String(length=32), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=True),
        _fk("machine_id", "machines", "state_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_changes")),
    )
    op.create_index("ix_state_changes_machine_ts", "state_changes", ["machine_id", "ts"])
    op.create_table(
        "cycles",
        _id(),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=256), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _ts("started"),
        _ts("ended"),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("held_s", sa.Float(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        _fk("agent_id", "agents", "cycles"),
        _fk("machine_id", "machines", "cycles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycles")),
    )
    op.create_index("ix_cycles_machine_ended", "cycles", ["machine_id", "ended"])
    op.create_table(
        "part_counts",
        _id(),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _ts("ts"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("program", sa.String(length=256), nullable=True),
        _fk("agent_id", "agents", "part_counts"),
        _fk("machine_id", "machines", "part_counts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_counts")),
    )
    op.create_index("ix_part_counts_machine_ts", "part_counts", ["machine_id", "ts"])
    op.create_table(
        "alarms",
        _id(),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        _ts("ts"),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(length=512), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        _ts("cleared", nullable=True),
        _fk("machine_id", "machines", "alarms"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_machine_cleared", "alarms", ["machine_id", "cleared"])


def downgrade() -> None:
    for table in ("alarms", "part_counts", "cycles", "state_changes", "messages", "machines", "dead_letters", "agents"):
        op.drop_table(table)
