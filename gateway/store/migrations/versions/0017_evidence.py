"""Competence evidence: the operation worked and the first-part approval a validation rests on.

Revision ID: 0017_evidence
Revises: 0016_network
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_evidence"
down_revision = "0016_network"
branch_labels = None
depends_on = None

TABLE = "competence_validations"
EVIDENCE = (("operation_id", "operations"), ("approval_id", "first_part_approvals"))


def upgrade() -> None:
    for column, target in EVIDENCE:
        name = f"fk_{TABLE}_{column}_{target}"
        # As in 0012: SQLite adds a nullable column with its foreign key in place (batch mode would copy the
        # table, and dropping the old copy breaks the rows pointing at it while foreign keys are enforced).
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {target} (id)")
        else:
            op.add_column(TABLE, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(name, TABLE, target, [column], ["id"])
        op.create_index(op.f(f"ix_{TABLE}_{column}"), TABLE, [column])
    # A validation that rested on a session rests on the operation that session was on.
    op.execute(
        f"UPDATE {TABLE} SET operation_id = "
        "(SELECT operation_id FROM work_sessions WHERE work_sessions.id = competence_validations.session_id) "
        "WHERE session_id IS NOT NULL"
    )


def downgrade() -> None:
    for column, target in reversed(EVIDENCE):
        op.drop_index(op.f(f"ix_{TABLE}_{column}"), table_name=TABLE)
        if op.get_bind().dialect.name != "sqlite":  # SQLite drops a column's own foreign key with the column
            op.drop_constraint(f"fk_{TABLE}_{column}_{target}", TABLE, type_="foreignkey")
        op.drop_column(TABLE, column)
