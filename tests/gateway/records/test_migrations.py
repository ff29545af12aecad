"""Revision 0002 creates exactly the records tables the models describe, and goes down and up again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _rows(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(text(sql)).all()]


def test_0018_puts_every_record_in_the_gateway_s_site_and_goes_down_with_its_data(empty_url: str) -> None:
    engine = db.make_engine(empty_url)
    config = db.alembic_config()
    t = "2026-11-23 08:00:00+00:00"
    inserts = [
        "INSERT INTO agents (id, site, name, status, version, last_seen) VALUES (1, 'lyon', 'pc', 'online', '1', :t)",
        "INSERT INTO machines (id, site, name, agent_id, first_seen, last_seen) VALUES (1, 'lyon', 'mill', 1, :t, :t)",
        "INSERT INTO site_calendars (id, site, timezone, week, public_holidays, stop_threshold_s,"
        " alarm_prefills_breakdown) VALUES (1, 'paris', 'UTC', '[]', 'none', 300, true)",
        "INSERT INTO customers (id, name, contact, created) VALUES (1, 'Acme', '', :t)",
        "INSERT INTO orders (id, customer_id, reference, part_number, drawing_revision, quantity, programs,"
        " status, created) VALUES (1, 1, 'PO-1', 'P', '', 5, '[]', 'open', :t)",
        "INSERT INTO students (id, first_name, last_initial, class_name, track, badge, active, created)"
        " VALUES (1, 'Léa', 'M', 'CAP1', 'CAP', 'B-LEA', true, :t)",
        "INSERT INTO users (id, username, password_hash, role, student_id, active, created)"
        " VALUES (1, 'master', 'x', 'admin', NULL, true, :t), (2, 'lea', 'x', 'student', 1, true, :t)",
        "INSERT INTO login_sessions (id, token_hash, user_id, created, expires) VALUES (1, 'h', 1, :t, :t)",
        "INSERT INTO api_tokens (id, token_hash, role, machine_id, label, created, expires)"
        " VALUES (1, 'k', 'kiosk', 1, 'tablet', :t, :t)",
        "INSERT INTO machine_groups (id, name, regulated, created) VALUES (1, 'Tournage', true, :t)",
        "INSERT INTO machine_group_members (id, group_id, machine_id) VALUES (1, 1, 1)",
        "INSERT INTO authorisations (id, student_id, group_id, granted_on, granted_by, supervised_only, created)"
        " VALUES (1, 1, 1, '2026-09-01', 'm', false, :t)",
    ]
    sited = ("customers", "orders", "students", "users", "api_tokens", "machine_groups")
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0017_evidence")
            for sql in inserts:
                connection.execute(text(sql), {"t": t})
        db.upgrade(empty_url, engine=engine)  # no configured site: the only site with machines
        with engine.connect() as connection:
            for table in sited:
                assert _rows(connection, f"SELECT DISTINCT site FROM {table}") == [("lyon",)], table
            # The master saw every site: they keep paris (a calendar's) beside their own lyon.
            assert _rows(connection, "SELECT user_id, site FROM user_sites") == [(1, "paris")]
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        with engine.begin() as connection:  # names are unique per site now: paris has its Acme too
            connection.execute(
                text("INSERT INTO customers (id, site, name, contact, created) VALUES (2, 'paris', 'Acme', '', :t)"),
                {"t": t},
            )
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0017_evidence")
        with engine.connect() as connection:
            assert "user_sites" not in inspect(connection).get_table_names()
            for table in sited:
                assert "site" not in {c["name"] for c in inspect(connection).get_columns(table)}, table
            assert _rows(connection, "SELECT id, name FROM customers ORDER BY id") == [(1, "Acme"), (2, "Acme #2")]
            assert _rows(connection, "SELECT id, customer_id FROM orders") == [(1, 1)]
            assert _rows(connection, "SELECT group_id, machine_id FROM machine_group_members") == [(1, 1)]
            if connection.dialect.name == "sqlite":
                assert _rows(connection, "PRAGMA foreign_key_check") == []
        db.upgrade(empty_url, engine=engine, site="grenoble")  # the configured site wins
        with engine.connect() as connection:
            assert _rows(connection, "SELECT id, site FROM customers ORDER BY id") == [(1, "grenoble"), (2, "grenoble")]
            assert _rows(connection, "SELECT site FROM users WHERE role = 'student'") == [("grenoble",)]
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()
