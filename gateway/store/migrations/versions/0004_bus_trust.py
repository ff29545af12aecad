"""Trust on the bus: bounded dead letters (a payload prefix, its size and SHA-256) and the machines each agent announced.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09

Dead letters stored before this revision keep whole payloads of up to 1 MiB:
their size and hash are computed from the full payload, then the payload is cut
to its first 4 KiB, a few hundred rows at a time.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PREFIX_BYTES = 4096  # gateway.store.repo.DEAD_LETTER_PREFIX_BYTES at the time of this revision
CHUNK = 500

_dead_letters = sa.table(
    "dead_letters",
    sa.column("id", sa.Integer()),
    sa.column("payload", sa.LargeBinary()),
    sa.column("payload_size", sa.Integer()),
    sa.column("payload_sha256", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("announced", sa.JSON(), nullable=True))
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("payload_size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("payload_sha256", sa.String(length=64), nullable=True))
    _bound_existing()
    with op.batch_alter_table("dead_letters") as batch:
        batch.alter_column("payload_size", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("payload_sha256", existing_type=sa.String(length=64), nullable=False)


def _bound_existing() -> None:
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_dead_letters.c.id, _dead_letters.c.payload)
            .where(_dead_letters.c.id > last)
            .order_by(_dead_letters.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        for row_id, payload in rows:
            data = bytes(payload or b"")
            conn.execute(
                sa.update(_dead_letters)
                .where(_dead_letters.c.id == row_id)
                .values(
                    payload=data[:PREFIX_BYTES],
                    payload_size=len(data),
                    payload_sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("payload_sha256")
        batch.drop_column("payload_size")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("announced")
