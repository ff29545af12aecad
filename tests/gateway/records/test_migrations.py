"""Revision 0002 creates exactly the records tables the models describe, and goes down and up again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from gateway.store import db
from gateway.store.models import Base
from tests.gateway.records.conftest import PG_SERVER

RECORDS = {
    "customers",
    "orders",
    "students",
    "users",
    "login_sessions",
    "api_tokens",
    "work_sessions",
    "scrap",
    "cycle_assignments",
    "audit_log",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"atelier_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_records_schema_matches_the_models_and_downgrades(empty_url: str) -> None:
    db.upgrade(empty_url)
    engine = db.make_engine(empty_url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= RECORDS
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        config = db.alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        with engine.connect() as connection:
            assert not set(inspect(connection).get_table_names()) & RECORDS
        db.upgrade(empty_url, engine=engine)
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= RECORDS
    finally:
        engine.dispose()
