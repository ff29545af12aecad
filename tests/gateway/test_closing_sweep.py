"""The gateway ends sessions left open while it was down, at their own closing hours, before it serves; a store
that does not answer costs a round, never the gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from atelier.broker import free_port
from gateway.closing_sweep import sweep
from gateway.config import GatewaySettings
from gateway.store import db
from gateway.store.db import Database
from gateway.store.models import AuditEntry, Student, WorkSessionRecord
from tests.gateway.records.conftest import add_machine

TUESDAY_9_PARIS = datetime(2026, 11, 24, 8, tzinfo=UTC)
TUESDAY_17_PARIS = datetime(2026, 11, 24, 16, tzinfo=UTC)


async def test_a_gateway_that_was_down_closes_the_sessions_it_missed_at_their_closing_hour(
    make_settings: Callable[..., GatewaySettings], gateway_factory: Callable[[GatewaySettings], Any], tmp_path: Path
) -> None:
    settings = make_settings()
    assert settings.records.timezone == "Europe/Paris"
    db.upgrade(settings.database.url)
    engine = db.make_engine(settings.database.url)
    sessions = db.session_factory(engine)
    machine_id = add_machine(sessions, "mill")
    with sessions.begin() as s:
        lea = Student(
            site="lyon", first_name="Léa", last_initial="M", class_name="CAP1", track="CAP", badge=None, active=True
        )
        lea.created = TUESDAY_9_PARIS
        s.add(lea)
        s.flush()
        row = WorkSessionRecord(machine_id=machine_id, student_id=lea.id, order_id=None, started=TUESDAY_9_PARIS)
        row.opened_by = "kiosk"
        s.add(row)
        s.flush()
        session_id = row.id
    # The gateway starts long after (the test runs on the real clock, after that Tuesday).
    await gateway_factory(settings)
    with sessions() as s:
        closed = s.get_one(WorkSessionRecord, session_id)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "close_at_closing_time")).one()
    engine.dispose()
    assert (closed.ended, closed.closed_by) == (TUESDAY_17_PARIS, "calendar")
    assert (entry.who, entry.entity_id) == ("calendar", session_id)


def test_a_store_that_does_not_answer_costs_one_round() -> None:
    # A PostgreSQL URL on a port where nothing listens: a real connection refused.
    database = Database.at(f"postgresql+psycopg://atelier@127.0.0.1:{free_port()}/atelier")
    try:
        assert sweep(database, "Europe/Paris") == 0
    finally:
        database.close()
