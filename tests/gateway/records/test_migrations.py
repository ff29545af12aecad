"""Revision 0002 creates exactly the records tables the models describe, and goes down and up again."""

from __future__ import annotations

import json
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


def test_0012_gives_every_order_one_operation_10_and_moves_its_work_onto_it(empty_url: str) -> None:
    engine = db.make_engine(empty_url)
    config = db.alembic_config()
    t = "2026-11-23 08:00:00+00:00"
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0011_competences")
            run = connection.execute
            run(text("INSERT INTO customers (id, name, contact, created) VALUES (1, 'Acme', '', :t)"), {"t": t})
            for order_id, programs, standard in ((1, '["O1000", "O1001"]', 300.0), (2, "[]", None)):
                run(
                    text(
                        "INSERT INTO orders (id, customer_id, reference, part_number, drawing_revision, quantity,"
                        " standard_cycle_s, programs, status, created)"
                        " VALUES (:id, 1, :ref, 'P', '', 5, :std, :programs, 'open', :t)"
                    ),
                    {"id": order_id, "ref": f"PO-{order_id}", "std": standard, "programs": programs, "t": t},
                )
            run(
                text(
                    "INSERT INTO agents (id, site, name, status, version, last_seen)"
                    " VALUES (1, 'lyon', 'pc', 'online', '1', :t)"
                ),
                {"t": t},
            )
            run(
                text(
                    "INSERT INTO machines (id, site, name, agent_id, first_seen, last_seen)"
                    " VALUES (1, 'lyon', 'mill', 1, :t, :t)"
                ),
                {"t": t},
            )
            sessions_in: list[tuple[int, int | None]] = [(1, 1), (2, None)]  # an order's, a practice one
            for session_id, session_order in sessions_in:
                run(
                    text(
                        "INSERT INTO work_sessions (id, machine_id, order_id, started, ended, opened_by)"
                        " VALUES (:id, 1, :order, :t, :t, 'm')"
                    ),
                    {"id": session_id, "order": session_order, "t": t},
                )
            run(
                text(
                    "INSERT INTO scrap (id, order_id, quantity, reason, inspected_by, ts, session_id, declared_by)"
                    " VALUES (1, 1, 2, 'burr', 'm', :t, 1, 'm')"
                ),
                {"t": t},
            )
        db.upgrade(empty_url, engine=engine)
        with engine.connect() as connection:
            operations = connection.execute(
                text(
                    "SELECT id, order_id, number, programs, standard_cycle_s, first_part"
                    " FROM operations ORDER BY order_id"
                )
            ).all()
            assert [(o.order_id, o.number, o.standard_cycle_s, bool(o.first_part)) for o in operations] == [
                (1, 10, 300.0, False),
                (2, 10, None, False),
            ]
            programs = operations[0].programs
            assert (json.loads(programs) if isinstance(programs, str) else programs) == ["O1000", "O1001"]
            rows = connection.execute(text("SELECT id, operation_id FROM work_sessions")).all()
            sessions: dict[int, int | None] = {row.id: row.operation_id for row in rows}
            assert sessions == {1: operations[0].id, 2: None}
            assert connection.execute(text("SELECT operation_id FROM scrap")).scalar_one() == operations[0].id
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0011_competences")
        with engine.connect() as connection:
            assert "operations" not in inspect(connection).get_table_names()
            assert "operation_id" not in {c["name"] for c in inspect(connection).get_columns("work_sessions")}
            assert connection.execute(text("SELECT count(*) FROM work_sessions")).scalar_one() == 2
    finally:
        engine.dispose()
