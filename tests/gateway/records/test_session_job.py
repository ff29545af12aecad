"""The hourly job keeps finished work sessions' rows (``session_cycles``) ready (issue 18): after a round every
finished session whose days are over has a current row and a practice log read afterwards attributes nothing;
a round keeps to its time budget and the next one goes on; a late cycle makes a row stale and the next round
refreshes it; a session whose raw rows retention purged gets the same row again.

On the generated week of a school of 3 machines (``test_summaries``), SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import RecordsSection
from gateway.rollup_job import one_round, prepare_sessions
from gateway.store.db import Database
from gateway.store.models import Cycle, Machine, SessionCycles, WorkSessionRecord
from gateway.store.reports_repo import student_log
from gateway.store.session_backlog import due_chunks
from tests.gateway.records.test_summaries import NOW, TZ, ZONE, engine, generate, later

__all__ = ["engine"]  # the store fixture (SQLite, and PostgreSQL marked slow), used by name

RECORDS = RecordsSection(timezone=ZONE)
TODAY = datetime.combine(NOW.astimezone(TZ).date(), datetime.min.time(), tzinfo=TZ)  # Friday's local midnight
RAW = ("FROM cycles WHERE cycles.machine_id", "FROM state_changes WHERE state_changes.machine_id", "machine_days")


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    generate(engine)
    made = sessionmaker(engine, expire_on_commit=False)
    later(made)  # the history was written before: accounted for
    return made


def days_over(sessions: sessionmaker[Session]) -> set[int]:
    """The sessions whose days are over at NOW: ended before Friday's local midnight (counted independently)."""
    with sessions() as db:
        return set(db.scalars(select(WorkSessionRecord.id).where(WorkSessionRecord.ended < TODAY)))


def kept(sessions: sessionmaker[Session]) -> dict[int, tuple[Any, ...]]:
    with sessions() as db:
        return {
            r.session_id: (r.cycles, r.parts, r.stops, r.first_good, r.order_since)
            for r in db.scalars(select(SessionCycles))
        }


def due(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return sum(len(ids) for ids in due_chunks(db, now=NOW, zone=ZONE))


def busiest_student(sessions: sessionmaker[Session]) -> int:
    """The student with the most sessions, all finished before today (today's stops are computed from raw rows
    at every read: not the job's work)."""
    with sessions() as db:
        today = select(WorkSessionRecord.student_id).where(
            WorkSessionRecord.student_id.is_not(None),
            (WorkSessionRecord.ended.is_(None)) | (WorkSessionRecord.ended >= TODAY),
        )
        student = db.scalar(
            select(WorkSessionRecord.student_id)
            .where(WorkSessionRecord.student_id.is_not(None), WorkSessionRecord.student_id.not_in(today))
            .group_by(WorkSessionRecord.student_id)
            .order_by(func.count().desc(), WorkSessionRecord.student_id)
            .limit(1)
        )
    assert student is not None
    return int(student)


def log_of(sessions: sessionmaker[Session], student: int, *, raw: bool = False) -> tuple[Any, Any]:
    """The student's log and per-session tallies; ``raw``: with every kept row deleted in a transaction rolled
    back after (the kept rows stay for the rest of the test; the log's own attempt to store waits 250 ms for
    the lock this transaction holds, then gives up, as a reader does)."""
    with sessions() as db:
        if raw:
            db.execute(delete(SessionCycles))
        found = student_log(db=db, student_id=student, now=NOW, zone=ZONE)
        db.rollback()
    return found.log, found.per_session


def statements_of(engine: Engine, sessions: sessionmaker[Session], student: int) -> list[str]:
    found: list[str] = []

    def seen(*args: Any) -> None:
        found.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        log_of(sessions, student)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return found


def test_one_round_prepares_every_finished_session(
    engine: Engine, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    over = days_over(sessions)
    assert len(over) > 10, "the generated week has sessions on every day"
    assert due(sessions) == len(over)
    with caplog.at_level(logging.INFO, logger="gateway.rollup_job"):
        one_round(Database(engine), RECORDS, NOW)
    assert set(kept(sessions)) == over, "one row per finished session whose days are over, none for today's"
    assert due(sessions) == 0
    assert f"session summaries prepared={len(over)} left=0 in " in caplog.text
    student = busiest_student(sessions)
    statements = statements_of(engine, sessions, student)
    assert statements
    assert not [q for q in statements if any(r in q for r in RAW)], "nothing attributed, no timeline, no day"
    assert log_of(sessions, student) == log_of(sessions, student, raw=True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gateway.rollup_job"):
        one_round(Database(engine), RECORDS, NOW)
    assert "session summaries" not in caplog.text, "nothing left to do, nothing said"


def test_a_round_keeps_to_its_budget_and_the_next_goes_on(sessions: sessionmaker[Session], engine: Engine) -> None:
    database = Database(engine)
    over = days_over(sessions)
    # Budget 0: one chunk a round, the newest sessions first.
    first = prepare_sessions(database, RecordsSection(timezone=ZONE, summary_budget_s=0), NOW, chunk=4)
    assert (first.sessions, first.left) == (4, len(over) - 4)
    with sessions() as db:
        newest = db.scalars(
            select(WorkSessionRecord.id).where(WorkSessionRecord.id.in_(over)).order_by(WorkSessionRecord.ended.desc())
        ).first()
        chunk_machine = db.scalars(select(SessionCycles.machine_id)).all()
    assert newest in kept(sessions), "the round began with the newest finished session"
    assert len(set(chunk_machine)) == 1, "a chunk is one machine's sessions"
    second = prepare_sessions(database, RecordsSection(timezone=ZONE, summary_budget_s=0), NOW, chunk=4)
    assert (second.sessions, second.left) == (4, len(over) - 8)
    assert len(kept(sessions)) == 8
    # A budget of 10 s on a clock that moves 6 s a look: a second chunk starts at 6 s, a third would at 12 s.
    ticks = itertools.count(0, 6)
    third = prepare_sessions(
        database, RecordsSection(timezone=ZONE, summary_budget_s=10), NOW, chunk=4, clock=lambda: float(next(ticks))
    )
    assert (third.sessions, third.left) == (8, len(over) - 16)
    rest = prepare_sessions(database, RECORDS, NOW, chunk=4)
    assert (rest.sessions, rest.left) == (len(over) - 16, 0)
    assert set(kept(sessions)) == over


def test_a_late_cycle_makes_a_row_stale_and_the_next_round_refreshes_it(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    database = Database(engine)
    one_round(database, RECORDS, NOW)
    student = busiest_student(sessions)
    before = log_of(sessions, student)
    with sessions() as db:
        target = db.scalars(
            select(WorkSessionRecord)
            .where(WorkSessionRecord.student_id == student, WorkSessionRecord.ended.is_not(None))
            .order_by(WorkSessionRecord.started)
        ).first()
        assert target is not None
        assert target.ended is not None
        agent = db.get_one(Machine, target.machine_id).agent_id
    ended = target.ended - timedelta(minutes=1)
    with sessions.begin() as db:
        late = Cycle(machine_id=target.machine_id, agent_id=agent, seq=10**9, program="O1", kind="cycle",
                     started=ended - timedelta(minutes=2), ended=ended, duration_s=120.0, held_s=0.0, parts=3,
                     outcome="completed")  # fmt: skip
        db.add(late)
        db.flush()
        late_id = late.id
    assert due(sessions) > 0, "the late cycle makes the rows of its machine's days stale"
    later(sessions)  # past PostgreSQL's grace: a row stored within it would be dropped again at once
    one_round(database, RECORDS, NOW)
    assert due(sessions) == 0
    assert late_id in [c[0] for c in kept(sessions)[target.id][0]], "the refreshed row has the late cycle"
    after = log_of(sessions, student)
    assert after[0].cycles == before[0].cycles + 1
    assert after == log_of(sessions, student, raw=True)


def test_a_session_whose_raw_rows_were_purged_gets_the_same_row_again(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Retention keeps what a session owns (its cycles, their parts) and makes its days' summaries final: a row
    dropped after the purge (a late row, a mark) is computed again to the same figures, so none is lost."""
    database = Database(engine)
    records = RecordsSection(timezone=ZONE, raw_state_retention_days=2, raw_telemetry_retention_days=2)
    one_round(database, records, NOW)  # sessions prepared, then Monday's and Tuesday's raw rows purged
    with sessions() as db:
        purged = set(db.scalars(select(WorkSessionRecord.id).where(WorkSessionRecord.ended < NOW - timedelta(days=3))))
    assert purged, "sessions of the purged days"
    before = kept(sessions)
    assert purged <= set(before)
    with sessions.begin() as db:
        db.execute(delete(SessionCycles))
    later(sessions)
    one_round(database, records, NOW)
    assert kept(sessions) == before


def test_a_row_kept_before_0021_is_due_and_the_next_round_gives_it_its_totals(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """A row stored before the totals columns existed is current for its cycles, but a log would complete its
    totals from its cycles on the request: the job does it instead, once."""
    database = Database(engine)
    one_round(database, RECORDS, NOW)
    with sessions() as db:
        completed = dict(db.execute(select(SessionCycles.session_id, SessionCycles.completed)).all())
    assert completed
    assert None not in completed.values()
    with sessions.begin() as db:
        db.execute(update(SessionCycles).values(completed=None))  # as 0021 leaves the rows kept before it
    assert due(sessions) == len(completed), "every row without totals is due"
    one_round(database, RECORDS, NOW)
    assert due(sessions) == 0
    with sessions() as db:
        again = dict(db.execute(select(SessionCycles.session_id, SessionCycles.completed)).all())
    assert again == completed, "the same totals, taken from the same cycles"
