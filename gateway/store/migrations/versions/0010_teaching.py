"""Teaching: machine groups, machine authorisations (habilitations), the master on duty.

Revision ID: 0010_teaching
Revises: 0007_school_time
Create Date: 2026-12-04

A check-in now needs a valid authorisation for the student on the machine or its
group. Nothing is granted here: a school upgrading records its authorisations
(the desk's page or the API) before students badge again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_teaching"
down_revision = "0007_school_time"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(owner: str, column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "machine_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("regulated", sa.Boolean(), nullable=False),
        _ts("created"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_machine_groups_name")),
    )
    op.create_table(
        "machine_group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        _fk("machine_group_members", "group_id", "machine_groups"),
        _fk("machine_group_members", "machine_id", "machines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_group_members")),
        sa.UniqueConstraint("group_id", "machine_id", name=op.f("uq_machine_group_members_group_id_machine_id")),
    )
    op.create_index(op.f("ix_machine_group_members_group_id"), "machine_group_members", ["group_id"])
    op.create_index(op.f("ix_machine_group_members_machine_id"), "machine_group_members", ["machine_id"])
    op.create_table(
        "authorisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("supervised_only", sa.Boolean(), nullable=False),
        sa.Column("training_on", sa.Date(), nullable=True),
        sa.Column("medical_valid_until", sa.Date(), nullable=True),
        _ts("created"),
        _ts("revoked", nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.CheckConstraint("(machine_id IS NULL) <> (group_id IS NULL)", name="ck_authorisations_one_target"),
        _fk("authorisations", "student_id", "students"),
        _fk("authorisations", "machine_id", "machines"),
        _fk("authorisations", "group_id", "machine_groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorisations")),
    )
    op.create_index(op.f("ix_authorisations_student_id"), "authorisations", ["student_id"])
    op.create_index("ix_authorisations_student_live", "authorisations", ["student_id", "revoked"])
    op.create_table(
        "duty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("master", sa.String(64), nullable=False),
        _ts("started"),
        _ts("ended", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty")),
    )
    op.create_index(
        "uq_duty_open_site_master",
        "duty",
        ["site", "master"],
        unique=True,
        sqlite_where=sa.text("ended IS NULL"),
        postgresql_where=sa.text("ended IS NULL"),
    )
    with op.batch_alter_table("work_sessions") as batch:
        batch.add_column(sa.Column("master_on_duty", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_sessions") as batch:
        batch.drop_column("master_on_duty")
    op.drop_index("uq_duty_open_site_master", table_name="duty")
    op.drop_table("duty")
    op.drop_index("ix_authorisations_student_live", table_name="authorisations")
    op.drop_index(op.f("ix_authorisations_student_id"), table_name="authorisations")
    op.drop_table("authorisations")
    op.drop_index(op.f("ix_machine_group_members_machine_id"), table_name="machine_group_members")
    op.drop_index(op.f("ix_machine_group_members_group_id"), table_name="machine_group_members")
    op.drop_table("machine_group_members")
    op.drop_table("machine_groups")
