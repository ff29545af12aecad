"""Records: customers, orders, students, logins, API tokens, work sessions, scrap, cycle assignments, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _fk(column: str, table: str, owner: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"))


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def upgrade() -> None:
    _people()
    _logins()
    _work()


def _people() -> None:
    op.create_table(
        "customers",
        _id(),
        _str("name", 200),
        _str("contact", 200),
        _ts("created"),
        _pk("customers"),
        sa.UniqueConstraint("name", name=op.f("uq_customers_name")),
    )
    op.create_table(
        "orders",
        _id(),
        _int("customer_id"),
        _str("reference", 64),
        _str("part_number", 64),
        _str("drawing_revision", 16),
        _int("quantity"),
        _ts("due", nullable=True),
        sa.Column("standard_cycle_s", sa.Float(), nullable=True),
        sa.Column("programs", sa.JSON(), nullable=False),
        _str("status", 16),
        _ts("created"),
        _fk("customer_id", "customers", "orders"),
        _pk("orders"),
        sa.UniqueConstraint("customer_id", "reference", name=op.f("uq_orders_customer_id_reference")),
    )
    op.create_index(op.f("ix_orders_customer_id"), "orders", ["customer_id"])
    op.create_table(
        "students",
        _id(),
        _str("first_name", 64),
        _str("last_initial", 4),
        _str("class_name", 32),
        _str("track", 8),
        _str("badge", 64, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created"),
        _pk("students"),
        sa.UniqueConstraint("badge", name=op.f("uq_students_badge")),
    )


def _logins() -> None:
    op.create_table(
        "users",
        _id(),
        _str("username", 64),
        _str("password_hash", 255),
        _str("role", 16),
        _int("student_id", nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created"),
        _fk("student_id", "students", "users"),
        _pk("users"),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_student_id"), "users", ["student_id"])
    op.create_table(
        "login_sessions",
        _id(),
        _str("token_hash", 64),
        _int("user_id"),
        _ts("created"),
        _ts("expires"),
        _fk("user_id", "users", "login_sessions"),
        _pk("login_sessions"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        _id(),
        _str("token_hash", 64),
        _str("role", 16),
        _int("machine_id", nullable=True),
        _str("label", 200),
        _ts("created"),
        _ts("revoked", nullable=True),
        _fk("machine_id", "machines", "api_tokens"),
        _pk("api_tokens"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def _work() -> None:
    op.create_table(
        "work_sessions",
        _id(),
        _int("machine_id"),
        _int("student_id", nullable=True),
        _int("order_id", nullable=True),
        _ts("started"),
        _ts("ended", nullable=True),
        _str("opened_by", 64),
        _str("closed_by", 64, nullable=True),
        _fk("machine_id", "machines", "work_sessions"),
        _fk("student_id", "students", "work_sessions"),
        _fk("order_id", "orders", "work_sessions"),
        _pk("work_sessions"),
    )
    op.create_index("ix_work_sessions_machine_started", "work_sessions", ["machine_id", "started"])
    op.create_index(op.f("ix_work_sessions_student_id"), "work_sessions", ["student_id"])
    op.create_index(op.f("ix_work_sessions_order_id"), "work_sessions", ["order_id"])
    op.create_index(
        "uq_work_sessions_open_machine",
        "work_sessions",
        ["machine_id"],
        unique=True,
        sqlite_where=sa.text("ended IS NULL"),
        postgresql_where=sa.text("ended IS NULL"),
    )
    _scrap_and_audit()


def _scrap_and_audit() -> None:
    op.create_table(
        "scrap",
        _id(),
        _int("order_id"),
        _int("quantity"),
        _str("reason", 200),
        _str("inspected_by", 64),
        _ts("ts"),
        _int("session_id", nullable=True),
        _int("machine_id", nullable=True),
        _str("declared_by", 64),
        sa.CheckConstraint("quantity > 0", name="ck_scrap_quantity_positive"),
        _fk("order_id", "orders", "scrap"),
        _fk("session_id", "work_sessions", "scrap"),
        _fk("machine_id", "machines", "scrap"),
        _pk("scrap"),
    )
    op.create_index(op.f("ix_scrap_order_id"), "scrap", ["order_id"])
    op.create_index(op.f("ix_scrap_session_id"), "scrap", ["session_id"])
    op.create_table(
        "cycle_assignments",
        _id(),
        _int("cycle_id"),
        _int("session_id"),
        _str("by", 64),
        _ts("at"),
        _fk("cycle_id", "cycles", "cycle_assignments"),
        _fk("session_id", "work_sessions", "cycle_assignments"),
        _pk("cycle_assignments"),
        sa.UniqueConstraint("cycle_id", name=op.f("uq_cycle_assignments_cycle_id")),
    )
    op.create_index(op.f("ix_cycle_assignments_session_id"), "cycle_assignments", ["session_id"])
    op.create_table(
        "audit_log",
        _id(),
        _str("who", 64),
        _ts("at"),
        _str("action", 32),
        _str("entity", 32),
        _int("entity_id", nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        _pk("audit_log"),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "cycle_assignments",
        "scrap",
        "work_sessions",
        "api_tokens",
        "login_sessions",
        "users",
        "students",
        "orders",
        "customers",
    ):
        op.drop_table(table)
