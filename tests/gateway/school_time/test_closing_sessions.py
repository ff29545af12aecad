"""Sessions left open are ended at closing time by the gateway's sweep and before a check-in, on SQLite and
PostgreSQL; audited as the calendar's; a master's correction still wins.

The world's gateway runs in UTC with the default school week (08:00–12:00, 13:00–17:00 on weekdays); T0 is
Monday 23 November 2026 at 08:00.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from gateway.closing_sweep import sweep
from gateway.store.models import AuditEntry, WorkSessionRecord
from tests.gateway.records.conftest import World, at

MONDAY_CLOSING = datetime(2026, 11, 23, 17, tzinfo=UTC)
TUESDAY_MORNING = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)


def run_sweep(w: World) -> int:
    return sweep(w.app.state.records.database, "UTC", w.clock)


def session_row(w: World, session_id: int) -> WorkSessionRecord:
    with w.sessions() as db:
        return db.get_one(WorkSessionRecord, session_id)


async def later(w: World, now: datetime) -> None:
    """Move the clock; a master's page login lasts 12 hours, so log in again."""
    w.clock.now = now
    login = {"username": "master", "password": "master-pass"}
    w.tokens["admin"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]


async def check_in(w: World, machine: str = "mill") -> int:
    body = {"machine": machine, "site": "lyon", "student_id": w.ids["student"]}
    found: int = (await w.ok("POST", "/api/sessions/check-in", json=body))["id"]
    return found


async def test_the_sweep_ends_a_forgotten_session_at_that_days_closing_hour(world: World) -> None:
    w = world
    session_id = await check_in(w)
    w.clock.now = at(7 * 60 + 59)  # Monday 15:59: still open
    assert run_sweep(w) == 0
    assert session_row(w, session_id).ended is None
    await later(w, TUESDAY_MORNING)
    assert run_sweep(w) == 1
    row = session_row(w, session_id)
    assert (row.ended, row.closed_by) == (MONDAY_CLOSING, "calendar")
    assert run_sweep(w) == 0  # once
    with w.sessions() as db:
        entries = list(db.scalars(select(AuditEntry).where(AuditEntry.action == "close_at_closing_time")))
    assert [(e.who, e.entity, e.entity_id) for e in entries] == [("calendar", "work_session", session_id)]
    assert entries[0].before is not None
    assert entries[0].before["ended"] is None
    assert entries[0].after is not None
    assert entries[0].after["ended"] == MONDAY_CLOSING.isoformat()


async def test_a_check_in_the_next_day_ends_yesterdays_session_first(world: World) -> None:
    w = world
    monday = await check_in(w)
    await later(w, TUESDAY_MORNING)
    # Without the rule: "student_busy" (she is still on the mill since Monday). With it, a new session.
    tuesday = await check_in(w, "lathe")
    assert tuesday != monday
    assert session_row(w, monday).ended == MONDAY_CLOSING
    assert session_row(w, tuesday).ended is None


async def test_a_check_out_the_next_morning_does_not_add_the_night(world: World) -> None:
    w = world
    session_id = await check_in(w)
    await later(w, TUESDAY_MORNING)
    body = {"machine": "mill", "site": "lyon", "badge": "B-LEA"}
    out = await w.ok("POST", "/api/sessions/check-out", "kiosk", json=body)
    assert out["id"] == session_id
    assert datetime.fromisoformat(out["ended"]) == MONDAY_CLOSING


async def test_a_masters_correction_overrides_the_calendar(world: World) -> None:
    w = world
    session_id = await check_in(w)
    await later(w, TUESDAY_MORNING)
    assert run_sweep(w) == 1
    # The student left at 15:30: the master says so, and the sweep leaves it.
    corrected = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    await w.ok("PATCH", f"/api/sessions/{session_id}", json={"ended": corrected.isoformat()})
    assert run_sweep(w) == 0
    assert session_row(w, session_id).ended == corrected
    # A master reopens it on Tuesday morning: it stays open through Tuesday, and ends at Tuesday's closing.
    await w.ok("PATCH", f"/api/sessions/{session_id}", json={"ended": None})
    await later(w, datetime(2026, 11, 24, 16, tzinfo=UTC))
    assert run_sweep(w) == 0
    await later(w, datetime(2026, 11, 25, 9, tzinfo=UTC))
    assert run_sweep(w) == 1
    assert session_row(w, session_id).ended == datetime(2026, 11, 24, 17, tzinfo=UTC)
