"""Orders with operations, first-part approvals, masters' badges.

Every existing order becomes one operation 10 carrying its programs and standard
cycle time, and its work sessions and scrap are moved onto it, so that an
order's counts are the same before and after. Migrated operations ask for no
first-part approval: the history is not judged again.

Revision ID: 0012_operations
Revises: 0011_competences
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_operations"
down_revision = "0011_competences"
branch_labels = None
depends_on = None


def _fk(owner: str, column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"))


def _add_operation_id(table: str) -> None:
    """A nullable ``operation_id`` referencing operations, without copying the table.

    Alembic's batch mode would copy the table on SQLite to add a foreign key, and dropping the old copy
    breaks the rows that point at it (scrap → work_sessions) while foreign keys are enforced; SQLite adds a
    nullable column with its foreign key in place.
    """
    name = f"fk_{table}_operation_id_operations"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN operation_id INTEGER CONSTRAINT {name} REFERENCES operations (id)")
    else:
        op.add_column(table, sa.Column("operation_id", sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, "operations", ["operation_id"], ["id"])
    op.create_index(f"ix_{table}_operation_id", table, ["operation_id"])


def _drop_operation_id(table: str) -> None:
    op.drop_index(f"ix_{table}_operation_id", table_name=table)
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops a column's own foreign key with the column
        op.drop_constraint(f"fk_{table}_operation_id_operations", table, type_="foreignkey")
    op.drop_column(table, "operation_id")


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("standard_cycle_s", sa.Float(), nullable=True),
        sa.Column("standard_setup_s", sa.Float(), nullable=True),
        sa.Column("first_part", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("number > 0", name="ck_operations_number_positive"),
        _fk("operations", "order_id", "orders"),
        _fk("operations", "group_id", "machine_groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint("order_id", "number", name=op.f("uq_operations_order_id_number")),
    )
    op.create_index(op.f("ix_operations_order_id"), "operations", ["order_id"])
    _add_operation_id("work_sessions")
    _add_operation_id("scrap")
    # A unique index, not a constraint: SQLite adds it without copying the table (logins point at users).
    op.add_column("users", sa.Column("badge", sa.String(64), nullable=True))
    op.create_index("uq_users_badge", "users", ["badge"], unique=True)
    op.create_table(
        "first_part_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(3), nullable=False),
        sa.Column("measured", sa.String(200), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("scrap_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("verdict IN ('OK', 'NOK')", name="ck_first_part_approvals_verdict"),
        _fk("first_part_approvals", "operation_id", "operations"),
        _fk("first_part_approvals", "machine_id", "machines"),
        _fk("first_part_approvals", "session_id", "work_sessions"),
        _fk("first_part_approvals", "cycle_id", "cycles"),
        _fk("first_part_approvals", "scrap_id", "scrap"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_part_approvals")),
    )
    op.create_index("ix_first_part_approvals_operation_machine", "first_part_approvals", ["operation_id", "machine_id"])
    op.create_index(op.f("ix_first_part_approvals_session_id"), "first_part_approvals", ["session_id"])
    _one_operation_per_order()


def _one_operation_per_order() -> None:
    """Each order gets operation 10 with its programs and standard; its sessions and scrap move onto it."""
    op.execute(
        "INSERT INTO operations (order_id, number, label, group_id, programs, standard_cycle_s, standard_setup_s,"
        " first_part, created)"
        " SELECT id, 10, '', NULL, programs, standard_cycle_s, NULL, false, created FROM orders"
    )
    for table in ("work_sessions", "scrap"):
        op.execute(
            f"UPDATE {table} SET operation_id = (SELECT operations.id FROM operations"
            f" WHERE operations.order_id = {table}.order_id AND operations.number = 10)"
            f" WHERE order_id IS NOT NULL"
        )


def downgrade() -> None:
    op.drop_table("first_part_approvals")
    op.drop_index("uq_users_badge", table_name="users")
    op.drop_column("users", "badge")
    _drop_operation_id("scrap")
    _drop_operation_id("work_sessions")
    op.drop_table("operations")
