"""The school's time: opening calendars per site, closures, machine exceptions, stop reasons, classified stops.

Revision ID: 0007_school_time
Revises: 0006
Create Date: 2026-12-04

Stops themselves are derived at read time from the state timeline and the
calendar; only a person's classification of one is stored, keyed by machine and
the stop's start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_school_time"
down_revision = "0006"
branch_labels = None
depends_on = None


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _int(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _date(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Date(), nullable=False)


def _fk(column: str, table: str, owner: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"))


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def upgrade() -> None:
    _calendars()
    _stops()


def _calendars() -> None:
    op.create_table(
        "site_calendars",
        _id(),
        _str("site", 63),
        _str("timezone", 64),
        sa.Column("week", sa.JSON(), nullable=False),
        _str("public_holidays", 16),
        _str("school_zone", 1, nullable=True),
        _int("stop_threshold_s"),
        sa.Column("alarm_prefills_breakdown", sa.Boolean(), nullable=False),
        _pk("site_calendars"),
        sa.UniqueConstraint("site", name=op.f("uq_site_calendars_site")),
    )
    op.create_table(
        "calendar_closures",
        _id(),
        _str("site", 63),
        _date("first"),
        _date("last"),
        _str("label", 200),
        _pk("calendar_closures"),
    )
    op.create_index(op.f("ix_calendar_closures_site"), "calendar_closures", ["site"])
    op.create_table(
        "machine_calendar_exceptions",
        _id(),
        _int("machine_id"),
        _date("first"),
        _date("last"),
        _str("kind", 16),
        _str("start_time", 5, nullable=True),
        _str("end_time", 5, nullable=True),
        _str("label", 200),
        _fk("machine_id", "machines", "machine_calendar_exceptions"),
        _pk("machine_calendar_exceptions"),
    )
    op.create_index(op.f("ix_machine_calendar_exceptions_machine_id"), "machine_calendar_exceptions", ["machine_id"])


def _stops() -> None:
    op.create_table(
        "stop_reasons",
        _id(),
        _str("site", 63),
        _str("code", 32),
        _str("label", 200),
        _str("category", 16),
        sa.Column("active", sa.Boolean(), nullable=False),
        _pk("stop_reasons"),
        sa.UniqueConstraint("site", "code", name=op.f("uq_stop_reasons_site_code")),
    )
    op.create_table(
        "stop_classifications",
        _id(),
        _int("machine_id"),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        _int("reason_id"),
        _str("by", 64),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _fk("machine_id", "machines", "stop_classifications"),
        _fk("reason_id", "stop_reasons", "stop_classifications"),
        _pk("stop_classifications"),
        sa.UniqueConstraint("machine_id", "started", name=op.f("uq_stop_classifications_machine_id_started")),
    )
    op.create_index(op.f("ix_stop_classifications_reason_id"), "stop_classifications", ["reason_id"])


def downgrade() -> None:
    op.drop_table("stop_classifications")
    op.drop_table("stop_reasons")
    op.drop_table("machine_calendar_exceptions")
    op.drop_table("calendar_closures")
    op.drop_table("site_calendars")
