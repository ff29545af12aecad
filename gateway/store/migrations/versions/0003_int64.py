"""64-bit sequence numbers and counters on PostgreSQL, as the wire contract allows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

SQLite's INTEGER already holds 64 bits: nothing to do there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("agents", "contiguous_seq", True),
    ("machines", "last_state_seq", True),
    ("machines", "part_counter", True),
    ("messages", "seq", False),
    ("cycles", "seq", False),
    ("cycles", "parts", False),
    ("part_counts", "seq", False),
    ("part_counts", "count", False),
    ("part_counts", "counter", True),
)


def _alter(to: sa.types.TypeEngine[int], was: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, type_=to, existing_type=was, existing_nullable=nullable)


def upgrade() -> None:
    _alter(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _alter(sa.Integer(), sa.BigInteger())
