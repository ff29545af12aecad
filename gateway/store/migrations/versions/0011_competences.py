"""Competences: the school's référentiel and the validations of its students.

Revision ID: 0011_competences
Revises: 0010_teaching
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_competences"
down_revision = "0010_teaching"
branch_labels = None
depends_on = None


def _fk(owner: str, column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "competences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("diploma", sa.String(32), nullable=False),
        sa.Column("block", sa.String(64), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("label", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competences")),
        sa.UniqueConstraint("diploma", "code", name=op.f("uq_competences_diploma_code")),
    )
    op.create_table(
        "competence_validations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("competence_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("comment", sa.String(1000), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "level IN ('non_acquis', 'en_cours', 'acquis', 'maitrise')", name="ck_competence_validations_level"
        ),
        _fk("competence_validations", "student_id", "students"),
        _fk("competence_validations", "competence_id", "competences"),
        _fk("competence_validations", "session_id", "work_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competence_validations")),
    )
    op.create_index(op.f("ix_competence_validations_student_id"), "competence_validations", ["student_id"])
    op.create_index(op.f("ix_competence_validations_competence_id"), "competence_validations", ["competence_id"])
    op.create_index(op.f("ix_competence_validations_session_id"), "competence_validations", ["session_id"])


def downgrade() -> None:
    op.drop_table("competence_validations")
    op.drop_table("competences")
