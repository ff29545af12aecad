"""The network: the aggregates schools publish, kept by the network's gateway.

Revision ID: 0016_network
Revises: 0012_operations
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016_network"
down_revision = "0012_operations"
branch_labels = None
depends_on = None


def _figures(table: str, *columns: sa.Column[Any], unique: tuple[str, ...]) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["network_periods.id"],
            name=op.f(f"fk_{table}_period_id_network_periods"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("period_id", *unique, name=op.f(f"uq_{table}_period_id_{'_'.join(unique)}")),
    )
    op.create_index(op.f(f"ix_{table}_period_id"), table, ["period_id"])


def upgrade() -> None:
    op.create_table(
        "network_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(63), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("version", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_periods")),
        sa.UniqueConstraint("site", "period", "start", name=op.f("uq_network_periods_site_period_start")),
    )
    op.create_index(op.f("ix_network_periods_day"), "network_periods", ["day"])
    hours = ("planned_h", "running_h", "free_h")
    stops = ("setup_h", "organisation_h", "technical_h", "planned_stop_h", "unclassified_h")
    _figures(
        "network_machine_figures",
        sa.Column("machine", sa.String(63), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in hours),
        sa.Column("good", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scrap", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("oee", sa.Float(), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=False) for name in stops),
        unique=("machine",),
    )
    _figures(
        "network_practice_figures",
        sa.Column("class_label", sa.String(16), nullable=False),
        sa.Column("track", sa.String(8), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        unique=("class_label", "track"),
    )


def downgrade() -> None:
    op.drop_table("network_practice_figures")
    op.drop_table("network_machine_figures")
    op.drop_table("network_periods")
