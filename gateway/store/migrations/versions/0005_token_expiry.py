"""Kiosk and status-screen tokens expire.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10

Tokens made before this revision had no end: they get a year from the upgrade, the
default validity of a new token, so that no screen goes dark on the day of the upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GRACE = timedelta(days=365)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires", sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table("api_tokens", sa.column("expires", sa.DateTime(timezone=True)))
    op.execute(sa.update(tokens).values(expires=datetime.now(UTC) + GRACE))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires")
