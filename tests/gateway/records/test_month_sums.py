"""Month sums (issue 18, ``machine_months``): a report over whole months read from them equals the same report
computed from raw rows, on two generated months of a school, after a late event in one of a month's days, a
corrected session, a calendar change, a new stop threshold, and once retention made the month's days final.

Equal means: the same integers and stops; float sums equal within 1e-9 relative (a month adds its days up,
the report then adds months and days: another summation order than the days alone). Each step also shows the
figures moved, so that equality is not that of two reports blind to the change.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import RecordsSection
from gateway.rollup_job import one_round
from gateway.store import calendar_repo, operations_repo, work_repo
from gateway.store.db import Database, make_engine
from gateway.store.models import AlarmRecord, Cycle, Machine, MachineDay, MachineMonth, PartCount, WorkSessionRecord
from gateway.store.raw_retention import purge_raw
from gateway.store.reports_repo import (
    MachineReport,
    _paced_standards,
    _session_standards,
    machine_report,
    machine_reports,
)
from tests.gateway.records.test_summaries import assert_same, later

ROOT = Path(__file__).resolve().parents[3]
ZONE = "Europe/Paris"
TZ = ZoneInfo(ZONE)
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # the generator's "now": Friday evening, its last day
OCTOBER = date(2026, 10, 1)
# October whole (a month sum), November's days up to Thursday (day summaries), Friday from raw rows.
WINDOW = (datetime(2026, 10, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """Two months of a school of 3 machines (``python -m bench.history``), in a store of the test's own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    done = subprocess.run(
        [sys.executable, "-m", "bench.history", url, "0.17", "1", "3"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    made = sessionmaker(engine, expire_on_commit=False)
    later(made)  # the history was written before: accounted for (as the migration does for a store's past)
    yield made
    engine.dispose()


def reports(sessions: sessionmaker[Session]) -> list[MachineReport]:
    """Every machine's report over ``WINDOW`` from month sums and day summaries, each checked against the same
    report from raw rows."""
    with sessions() as db:
        summed = machine_reports(db=db, start=WINDOW[0], end=WINDOW[1], now=NOW, zone=ZONE)
    with sessions() as db:
        for report in summed:
            raw = machine_report(
                db=db, machine=report.machine, start=WINDOW[0], end=WINDOW[1], now=NOW, zone=ZONE, summaries=False
            )
            assert_same(report, raw)
    return summed


def months(sessions: sessionmaker[Session]) -> set[tuple[int, date]]:
    with sessions() as db:
        return {(m, month) for m, month in db.execute(select(MachineMonth.machine_id, MachineMonth.month))}


def local(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(), tzinfo=TZ).astimezone(UTC) + timedelta(hours=hour)


def first_machine(sessions: sessionmaker[Session]) -> Machine:
    with sessions() as db:
        found = db.scalars(select(Machine).order_by(Machine.id)).first()
    assert found is not None
    return found


def late_cycle(db: Session, machine: Machine, day: date, seq: int) -> None:
    """A completed cycle and its part count for ``day``, written as ingest writes them, long after."""
    db.add(Cycle(machine_id=machine.id, agent_id=machine.agent_id, seq=seq, program="O1", kind="cycle",
                 started=local(day, 12.2), ended=local(day, 12.4), duration_s=720.0, held_s=0.0, parts=4,
                 outcome="completed"))  # fmt: skip
    db.add(PartCount(machine_id=machine.id, agent_id=machine.agent_id, seq=seq + 1, ts=local(day, 12.4), count=4,
                     counter=None, program="O1"))  # fmt: skip


def test_month_sums_equal_raw_after_late_and_corrected_records(sessions: sessionmaker[Session]) -> None:
    before = reports(sessions)  # October added up from its days, then kept
    machine = first_machine(sessions)
    ids = {r.machine.id for r in before}
    assert months(sessions) == {(machine_id, OCTOBER) for machine_id in ids}
    for a, b in zip(reports(sessions), before, strict=True):  # now from the month sums: the same
        assert_same(a, b)

    # Late events for an October Tuesday, read before any settling: the reader sees the month is stale.
    with sessions.begin() as db:
        db.add(AlarmRecord(machine_id=machine.id, ts=local(date(2026, 10, 13), 9), code="L1", message="late",
                           severity="fault", cleared=local(date(2026, 10, 13), 9.75)))  # fmt: skip
        late_cycle(db, machine, date(2026, 10, 13), 10**9)
    late = reports(sessions)
    assert late[0].made == before[0].made + 4
    assert late[0].use.alarm_s > before[0].use.alarm_s

    # Another late cycle, then the hourly job's settling before any reader: it deletes the stale month.
    with sessions.begin() as db:
        late_cycle(db, machine, date(2026, 10, 20), 10**9 + 10)
    later(sessions)
    settled = reports(sessions)
    assert settled[0].made == late[0].made + 4

    # A master corrects an October session: it ends half an hour after it began; its later cycles lose it.
    with sessions.begin() as db:
        row = db.scalars(
            select(WorkSessionRecord)
            .where(
                WorkSessionRecord.machine_id == machine.id,
                WorkSessionRecord.started >= local(date(2026, 10, 14), 0),
                WorkSessionRecord.order_id.is_not(None),
            )
            .order_by(WorkSessionRecord.started)
        ).first()
        assert row is not None
        assert row.started < local(date(2026, 10, 31), 0)
        work_repo.update_work_session(
            db=db, who="maitre", work_session_id=row.id, changes={"ended": row.started + timedelta(minutes=30)}, now=NOW
        )
    corrected = reports(sessions)
    assert corrected[0].scores.performance != settled[0].scores.performance

    # The calendar: an October day closed for the site, a new stop threshold.
    with sessions.begin() as db:
        calendar_repo.add_closure(
            db=db, who="maitre", now=NOW, site=machine.site, first=date(2026, 10, 15), last=date(2026, 10, 15),
            label="pont",
        )  # fmt: skip
    closed = reports(sessions)
    assert all(c.planned.calendar_s < r.planned.calendar_s for c, r in zip(closed, corrected, strict=True))
    # A machine out of service for an October day, settled by the hourly job before any reader.
    with sessions.begin() as db:
        calendar_repo.add_exception(
            db=db, who="maitre", now=NOW, machine_id=machine.id, first=date(2026, 10, 8), last=date(2026, 10, 8),
            kind="out_of_service", start_time=None, end_time=None, label="panne",
        )  # fmt: skip
    later(sessions)
    out = reports(sessions)
    assert out[0].planned.calendar_s < closed[0].planned.calendar_s
    assert out[1].planned.calendar_s == closed[1].planned.calendar_s
    with sessions.begin() as db:
        calendar_repo.save_settings(
            db=db, who="maitre", now=NOW, site=machine.site, zone=ZONE, changes={"stop_threshold_s": 60}
        )
    finer = reports(sessions)
    assert sum(len(r.stops) for r in finer) > sum(len(r.stops) for r in out)
    later(sessions)
    assert [r.use for r in reports(sessions)] == [r.use for r in finer]
    assert months(sessions) == {(machine_id, OCTOBER) for machine_id in ids}


def test_month_sums_after_retention_made_their_days_final(sessions: sessionmaker[Session]) -> None:
    before = reports(sessions)
    machine = first_machine(sessions)
    records = RecordsSection(timezone=ZONE, raw_state_retention_days=20, raw_telemetry_retention_days=20)
    later(sessions)
    purged = purge_raw(database=Database(sessions.kw["bind"]), records=records, now=NOW)
    assert purged.state_changes > 0
    with sessions() as db:
        final = db.scalar(
            select(func.count())
            .select_from(MachineDay)
            .where(MachineDay.final.is_(True), MachineDay.day >= OCTOBER, MachineDay.day < date(2026, 11, 1))
        )
        assert final == 3 * 31, "October's days are final"
        gone = machine_report(
            db=db, machine=machine, start=WINDOW[0], end=WINDOW[1], now=NOW, zone=ZONE, summaries=False
        )
    assert gone.use.offline_s > before[0].use.offline_s, "from raw rows alone, October is gone"

    def summed() -> list[MachineReport]:
        with sessions() as db:
            return machine_reports(db=db, start=WINDOW[0], end=WINDOW[1], now=NOW, zone=ZONE)

    for a, b in zip(summed(), before, strict=True):
        assert_same(a, b)
    # A late row for a purged October day: its month is stale, added up again from its final days: unchanged.
    with sessions.begin() as db:
        late_cycle(db, machine, date(2026, 10, 13), 10**9)
    for a, b in zip(summed(), before, strict=True):
        assert_same(a, b)
    later(sessions)  # the month is deleted, then added up again by the next reader
    for a, b in zip(summed(), before, strict=True):
        assert_same(a, b)
    assert (machine.id, OCTOBER) in months(sessions)


def test_a_reports_standards_are_its_sessions_standards(sessions: sessionmaker[Session]) -> None:
    """The standards a report reads with the sessions around its window (``_paced_standards``) are those read
    session by session (``_session_standards``): an operation's, else the order's; the sessions far from the
    window (a master's assignment may pace one) by id."""
    with sessions.begin() as db:
        rows = list(
            db.scalars(
                select(WorkSessionRecord)
                .where(WorkSessionRecord.order_id.is_not(None), WorkSessionRecord.started >= local(OCTOBER, 0))
                .order_by(WorkSessionRecord.started)
                .limit(4)
            )
        )
        for n, row in enumerate(rows):
            assert row.order_id is not None
            fields = {"number": 10 * (n + 1), "standard_cycle_s": 99.0 if n % 2 == 0 else None}
            row.operation_id = operations_repo.create_operation(
                db=db, who="maitre", now=NOW, order_id=row.order_id, fields=fields
            ).id
    with sessions() as db:
        machines = list(db.scalars(select(Machine.id)))
        every = set(db.scalars(select(WorkSessionRecord.id)))
        inside = set(db.scalars(select(WorkSessionRecord.id).where(WorkSessionRecord.started >= local(OCTOBER, 0))))
        assert every - inside, "sessions before the window, read by id"
        read = _paced_standards(db, machines, WINDOW, every)
        assert read == _session_standards(db, every)
        assert {read.get(row.id) for row in rows[::2]} == {99.0}


def test_the_hourly_round_adds_up_every_finished_month(sessions: sessionmaker[Session]) -> None:
    """After the round, the first year report reads the whole months from their sums (September began before
    the history, November is not over: only October), and equals the raw computation."""
    one_round(Database(sessions.kw["bind"]), RecordsSection(timezone=ZONE), NOW)
    with sessions() as db:
        ids = set(db.scalars(select(Machine.id)))
    assert months(sessions) == {(machine_id, OCTOBER) for machine_id in ids}
    reports(sessions)
