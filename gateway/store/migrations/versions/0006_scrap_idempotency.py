"""An idempotency key on scrap declarations: a double click on "Déclarer" declares once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

The kiosk sends a key it draws once per declaration; a second request with the
same key returns the first declaration instead of writing another. Unique, and
empty for declarations made without one (by masters through the API, or before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scrap") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_scrap_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("scrap") as batch:
        batch.drop_constraint("uq_scrap_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
