"""Alembic environment: runs on the connection that ``gateway.store.db.upgrade`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.store.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through gateway.store.db.upgrade(url), which passes a connection")
run_migrations(connection)
