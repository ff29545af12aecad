"""Day summaries (issue 18): a report read from ``machine_days`` equals the same report computed from raw rows,
on a generated week of a school, after late events, a corrected session, scrap, a reclassified stop and calendar
changes; and once raw rows are purged, the old days still show their figures.

The history comes from ``python -m bench.history`` (the generator a benchmark runs: tests never import bench),
written into the test's own migrated database, SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import RecordsSection
from gateway.rollup_job import one_round
from gateway.store import calendar_repo, first_part_repo, operations_repo, stops_repo, summaries_repo, work_repo
from gateway.store.db import Database, make_engine
from gateway.store.models import (
    AlarmRecord,
    Cycle,
    Machine,
    MachineDay,
    PartCount,
    ScrapRecord,
    SessionCycles,
    StateChange,
    WorkSessionRecord,
)
from gateway.store.raw_retention import purge_raw
from gateway.store.reports_repo import MachineReport, machine_report, machine_reports, session_stops, student_log
from tests.gateway.records.conftest import Clock, site_client

ROOT = Path(__file__).resolve().parents[3]
ZONE = "Europe/Paris"
TZ = ZoneInfo(ZONE)
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # the generator's "now": Friday evening, its last day
MONDAY = datetime(2026, 11, 23, tzinfo=TZ)
WEEK = (MONDAY, MONDAY + timedelta(days=7))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store of its own (the generator writes from another process: not the records tests' shared one)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    made = make_engine(url)
    yield made
    made.dispose()


def generate(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "bench.history", url, "0.02", "1", "3"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


_ahead = [0]


def later(sessions: sessionmaker[Session]) -> None:
    """Settle as the hourly job does, twice, each past PostgreSQL's grace (a clock ahead by more each time):
    the watermarks reach the rows written so far."""
    for _ in (1, 2):
        _ahead[0] += 1
        with sessions.begin() as db:
            summaries_repo.settle(db, zone=ZONE, now=datetime.now(UTC) + _ahead[0] * 2 * summaries_repo.GRACE)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    if a is None or b is None:
        return a is b
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(_close(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)


def figures(report: MachineReport) -> dict[str, Any]:
    return {
        "use": report.use,
        "planned": report.planned,
        "stops": [(c.stop, None if c.reason is None else c.reason.code, c.prefilled) for c in report.stops],
        "made": report.made,
        "scrap": report.scrap,
        "cycles": report.cycles,
        "scores": (report.scores.availability, report.scores.performance, report.scores.quality),
        "intervals": report.intervals,
    }


def assert_same(summarised: MachineReport, raw: MachineReport) -> None:
    a, b = figures(summarised), figures(raw)
    for key in a:
        left, right = a[key], b[key]
        if isinstance(left, tuple) and key == "scores":
            assert all(_close(x, y) for x, y in zip(left, right, strict=True)), (key, left, right)
        elif key == "stops":
            assert [(s.start, s.end, s.alarm, s.ongoing, r, p) for s, r, p in left] == [
                (s.start, s.end, s.alarm, s.ongoing, r, p) for s, r, p in right
            ]
        else:
            assert _close(left, right), (key, left, right)


def week_reports(sessions: sessionmaker[Session], window: tuple[datetime, datetime] = WEEK) -> list[MachineReport]:
    """Every machine's report from summaries, each checked against the same report from raw rows."""
    with sessions() as db:
        summarised = machine_reports(db=db, start=window[0], end=window[1], now=NOW, zone=ZONE)
    with sessions() as db:
        for report in summarised:
            raw = machine_report(
                db=db, machine=report.machine, start=window[0], end=window[1], now=NOW, zone=ZONE, summaries=False
            )
            assert_same(report, raw)
    return summarised


def stored_days(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(MachineDay)) or 0)


def local(day: int, hour: float) -> datetime:
    """A time of November ``day`` 2026 in the school's zone, in UTC."""
    return datetime.combine(date(2026, 11, day), time(), tzinfo=TZ).astimezone(UTC) + timedelta(hours=hour)


def first_machine(sessions: sessionmaker[Session]) -> Machine:
    with sessions() as db:
        return db.scalars(select(Machine).order_by(Machine.id)).first() or _missing()


def _missing() -> Machine:
    raise AssertionError("the generator made no machine")


def test_summaries_equal_raw_after_late_and_corrected_records(engine: Engine) -> None:
    generate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    later(sessions)  # the history was written before: accounted for (as the migration does for a store's past)
    before = week_reports(sessions)
    assert stored_days(sessions) == 3 * 4  # Monday to Thursday of 3 machines; Friday is today: from raw
    later(sessions)
    again = week_reports(sessions)  # read from the summaries now
    assert [figures(r)["made"] for r in again] == [figures(r)["made"] for r in before]
    machine = first_machine(sessions)

    # Late events for Tuesday: a fault alarm and a cycle with its part count, written as ingest writes them.
    with sessions.begin() as db:
        db.add(AlarmRecord(machine_id=machine.id, ts=local(24, 9), code="L1", message="late", severity="fault",
                           cleared=local(24, 9.75)))  # fmt: skip
        cycle = db.scalars(select(Cycle).where(Cycle.machine_id == machine.id)).first()
        assert cycle is not None
        db.add(Cycle(machine_id=machine.id, agent_id=cycle.agent_id, seq=10**9, program="O1", kind="cycle",
                     started=local(24, 12.2), ended=local(24, 12.4), duration_s=720.0, held_s=0.0, parts=5,
                     outcome="completed"))  # fmt: skip
        db.add(PartCount(machine_id=machine.id, agent_id=cycle.agent_id, seq=10**9 + 1, ts=local(24, 12.4), count=5,
                         counter=None, program="O1"))  # fmt: skip
    late = week_reports(sessions)
    assert late[0].made == before[0].made + 5
    assert late[0].use.alarm_s > before[0].use.alarm_s

    # A master corrects a Wednesday session: it ends half an hour after it began; its later cycles lose it.
    with sessions.begin() as db:
        row = db.scalars(
            select(WorkSessionRecord)
            .where(
                WorkSessionRecord.machine_id == machine.id,
                WorkSessionRecord.started >= local(25, 0),
                WorkSessionRecord.started < local(26, 0),
                WorkSessionRecord.order_id.is_not(None),
            )
            .order_by(WorkSessionRecord.started)
        ).first()
        assert row is not None
        work_repo.update_work_session(
            db=db, who="maitre", work_session_id=row.id, changes={"ended": row.started + timedelta(minutes=30)}, now=NOW
        )
    corrected = week_reports(sessions)
    assert corrected[0].scores.performance != late[0].scores.performance

    # Scrap declared for Wednesday, and a Tuesday stop reclassified as a lesson (planned downtime).
    with sessions.begin() as db:
        db.add(ScrapRecord(session_id=row.id, order_id=row.order_id, machine_id=machine.id, ts=local(25, 11),
                           quantity=2, reason="late", inspected_by="maitre", declared_by="maitre"))  # fmt: skip
    scrapped = week_reports(sessions)
    assert scrapped[0].scrap == corrected[0].scrap + 2
    tuesday = [c for c in scrapped[0].stops if local(24, 0) <= c.stop.start < local(25, 0)]
    assert tuesday, "the generator makes stops every day"
    with sessions.begin() as db:
        stops_repo.save_classification(
            db=db, who="maitre", now=NOW, machine=db.get_one(Machine, machine.id), started=tuesday[0].stop.start,
            code="cours",
        )  # fmt: skip
    reclassified = week_reports(sessions)
    assert reclassified[0].planned.planned_downtime_s > scrapped[0].planned.planned_downtime_s

    # The calendar: Thursday closed for the site, Monday out of service for one machine, a new stop threshold.
    with sessions.begin() as db:
        calendar_repo.add_closure(
            db=db, who="maitre", now=NOW, site=machine.site, first=date(2026, 11, 26), last=date(2026, 11, 26),
            label="pont",
        )  # fmt: skip
    closed = week_reports(sessions)
    assert all(c.planned.calendar_s < r.planned.calendar_s for c, r in zip(closed, reclassified, strict=True))
    with sessions.begin() as db:
        calendar_repo.add_exception(
            db=db, who="maitre", now=NOW, machine_id=machine.id, first=date(2026, 11, 23), last=date(2026, 11, 23),
            kind="out_of_service", start_time=None, end_time=None, label="panne",
        )  # fmt: skip
    out = week_reports(sessions)
    assert out[0].planned.calendar_s < closed[0].planned.calendar_s
    assert out[1].planned.calendar_s == closed[1].planned.calendar_s
    with sessions.begin() as db:
        calendar_repo.save_settings(
            db=db, who="maitre", now=NOW, site=machine.site, zone=ZONE, changes={"stop_threshold_s": 60}
        )
    finer = week_reports(sessions)
    assert sum(len(r.stops) for r in finer) > sum(len(r.stops) for r in out)
    later(sessions)
    week_reports(sessions)
    assert stored_days(sessions) == 3 * 4


async def test_raw_retention_keeps_old_days_from_their_summaries(engine: Engine) -> None:
    generate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    later(sessions)
    machine = first_machine(sessions)
    with sessions.begin() as db:  # a machine run at night, nobody checked in: nothing a log needs
        agent = db.get_one(Machine, machine.id).agent_id
        db.add(Cycle(machine_id=machine.id, agent_id=agent, seq=10**9, program="O9", kind="cycle",
                     started=local(23, 3), ended=local(23, 3.2), duration_s=720.0, held_s=0.0, parts=1,
                     outcome="completed"))  # fmt: skip
        db.add(PartCount(machine_id=machine.id, agent_id=agent, seq=10**9 + 1, ts=local(23, 3.2), count=1,
                         counter=None, program="O9"))  # fmt: skip
        db.flush()
        # Today's, written after it: the newest row of a table always stays (its id is the high-water mark).
        db.add(Cycle(machine_id=machine.id, agent_id=agent, seq=10**9 + 2, program="O9", kind="cycle",
                     started=local(27, 3), ended=local(27, 3.2), duration_s=720.0, held_s=0.0, parts=1,
                     outcome="completed"))  # fmt: skip
        db.add(PartCount(machine_id=machine.id, agent_id=agent, seq=10**9 + 3, ts=local(27, 3.2), count=1,
                         counter=None, program="O9"))  # fmt: skip
    before = week_reports(sessions)
    with sessions() as db:
        student = db.scalar(
            select(WorkSessionRecord.student_id).where(WorkSessionRecord.started < local(24, 0)).limit(1)
        )
        assert student is not None
        log = student_log(db=db, student_id=student, now=NOW, zone=ZONE).log
    cut = local(25, 0)  # two days before Friday evening: the raw rows of Wednesday 25 on are kept
    records = RecordsSection(timezone=ZONE, raw_state_retention_days=2, raw_telemetry_retention_days=2)
    later(sessions)  # the hourly round settles first (on PostgreSQL, rows newer than the grace keep days stale)

    purged = purge_raw(database=Database(engine), records=records, now=NOW)

    assert purged.state_changes > 0
    assert purged.machines_skipped == 0
    assert (purged.cycles, purged.part_counts) == (1, 1)  # the night's: every other one is in a session
    with sessions() as db:
        old_states = db.scalar(select(func.count()).select_from(StateChange).where(StateChange.ts < cut))
        assert old_states == 3  # each machine's last one before the cut: the state Wednesday starts in
        assert db.scalar(select(func.count()).select_from(Cycle).where(Cycle.ended < cut)), "session cycles stay"
        final = db.scalar(select(func.count()).select_from(MachineDay).where(MachineDay.final.is_(True)))
        assert (final or 0) >= 3 * 2
        # The practice log of a student of those days is whole: its cycles and parts were kept.
        assert student_log(db=db, student_id=student, now=NOW, zone=ZONE).log == log
    with sessions() as db:
        after = machine_reports(db=db, start=WEEK[0], end=WEEK[1], now=NOW, zone=ZONE)
        gone = machine_report(db=db, machine=machine, start=WEEK[0], end=WEEK[1], now=NOW, zone=ZONE, summaries=False)
    for a, b in zip(after, before, strict=True):
        assert_same(a, b)
    assert gone.use.offline_s > before[0].use.offline_s, "from raw rows alone, Monday and Tuesday are gone"
    # A late row for a purged day changes nothing: its summary is final.
    with sessions.begin() as db:
        db.add(StateChange(machine_id=machine.id, ts=local(23, 12), availability="UNAVAILABLE", execution=None))
    with sessions() as db:
        assert_same(machine_reports(db=db, start=WEEK[0], end=WEEK[1], now=NOW, zone=ZONE)[0], before[0])
    # The page API shows those days from their summaries.
    url = engine.url.render_as_string(hide_password=False)
    async with site_client(url, Clock(NOW), RecordsSection(timezone=ZONE)) as client:
        login = await client.post("/api/auth/login", json={"username": "bench-master", "password": "bench-master-pass"})
        token = login.json()["token"]
        shown = await client.get(
            "/api/reports/oee?period=week&date=2026-11-23", headers={"Authorization": f"Bearer {token}"}
        )
    assert shown.status_code == 200, shown.text
    rows = {row["machine"]: row for row in shown.json()}
    for report in before:
        row = rows[f"{report.machine.site}/{report.machine.name}"]
        assert math.isclose(row["running_s"], report.use.running_s, abs_tol=1e-6)
        assert row["made"] == report.made


def test_the_hourly_round_summarises_every_finished_day(engine: Engine) -> None:
    generate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    later(sessions)
    with sessions() as db:
        firsts = {m.id: m.first_seen.astimezone(TZ).date() for m in db.scalars(select(Machine))}
    one_round(Database(engine), RecordsSection(timezone=ZONE), NOW)
    yesterday = date(2026, 11, 26)
    with sessions() as db:
        for machine_id, first in firsts.items():
            days = set(db.scalars(select(MachineDay.day).where(MachineDay.machine_id == machine_id)))
            assert days == {first + timedelta(days=n) for n in range((yesterday - first).days + 1)}
    week_reports(sessions)
    week_reports(sessions, (MONDAY - timedelta(days=7), MONDAY))


def _log(sessions: sessionmaker[Session], student: int, *, cached: bool = True) -> Any:
    """The student's practice log and per-session tallies; ``cached=False``: every session attributed anew."""
    if not cached:
        with sessions.begin() as db:
            db.execute(delete(SessionCycles))
    with sessions() as db:
        found = student_log(db=db, student_id=student, now=NOW, zone=ZONE)
    return found.log, found.per_session


def test_practice_log_from_session_summaries_equals_raw(engine: Engine) -> None:
    generate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    later(sessions)
    with sessions() as db:
        student = db.scalar(
            select(WorkSessionRecord.student_id)
            .where(WorkSessionRecord.student_id.is_not(None))
            .group_by(WorkSessionRecord.student_id)
            .order_by(func.count().desc(), WorkSessionRecord.student_id)
            .limit(1)
        )
        assert student is not None
    first = _log(sessions, student)
    with sessions() as db:
        kept = db.scalar(select(func.count()).select_from(SessionCycles))
        assert kept, "the finished sessions' cycles are kept"
    assert _log(sessions, student) == first  # now from session_cycles
    later(sessions)
    assert _log(sessions, student) == first

    # A late cycle inside one of her sessions, then a correction of another: each log equals the raw one.
    with sessions() as db:
        rows = list(
            db.scalars(
                select(WorkSessionRecord)
                .where(WorkSessionRecord.student_id == student, WorkSessionRecord.ended.is_not(None))
                .order_by(WorkSessionRecord.started)
            )
        )
        agent = db.get_one(Machine, rows[0].machine_id).agent_id
    late = rows[0]
    assert late.ended is not None
    with sessions.begin() as db:
        ended = late.ended - timedelta(minutes=1)
        db.add(Cycle(machine_id=late.machine_id, agent_id=agent, seq=10**9, program="O1", kind="cycle",
                     started=ended - timedelta(minutes=2), ended=ended, duration_s=120.0, held_s=0.0, parts=3,
                     outcome="completed"))  # fmt: skip
    with_late = _log(sessions, student)
    assert with_late[0].cycles == first[0].cycles + 1
    assert with_late == _log(sessions, student, cached=False)
    corrected = rows[-1]
    with sessions.begin() as db:
        work_repo.update_work_session(
            db=db, who="maitre", work_session_id=corrected.id,
            changes={"ended": corrected.started + timedelta(minutes=20)}, now=NOW,
        )  # fmt: skip
    shorter = _log(sessions, student)
    assert shorter[0].cycles < with_late[0].cycles
    assert shorter == _log(sessions, student, cached=False)


def _lines(sessions: sessionmaker[Session], student: int, *, cached: bool = True) -> Any:
    """What a practice log shows, line by line: the log, each session's tally (cycles, parts, setup), each
    session's stops with their reasons, and the first-part verdicts."""
    if not cached:
        with sessions.begin() as db:
            db.execute(delete(SessionCycles))
    with sessions() as db:
        found = student_log(db=db, student_id=student, now=NOW, zone=ZONE)
        stops = session_stops(db=db, rows=found.sessions, now=NOW, zone=ZONE)  # the order page's: from raw days
    said = {k: [(c.stop, None if c.reason is None else c.reason.code) for c in v] for k, v in stops.items()}
    verdicts = [(a.session_id, a.verdict) for a in found.approvals]
    return found.log, found.per_session, said, verdicts


def test_practice_log_lines_from_summaries_equal_raw(engine: Engine) -> None:
    """Stops, setup times and first good cycles kept with the sessions (``session_cycles``, 0020) give the log
    the raw computation gives, after late events, a corrected session, scrap, reclassified stops and a
    first-part verdict; and a log read from them runs no query per session."""
    generate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    later(sessions)
    with sessions() as db:
        student = db.scalar(
            select(WorkSessionRecord.student_id)
            .where(WorkSessionRecord.student_id.is_not(None), WorkSessionRecord.order_id.is_not(None))
            .group_by(WorkSessionRecord.student_id)
            .order_by(func.count().desc(), WorkSessionRecord.student_id)
            .limit(1)
        )
        assert student is not None
        rows = list(
            db.scalars(
                select(WorkSessionRecord)
                .where(WorkSessionRecord.student_id == student, WorkSessionRecord.ended.is_not(None))
                .order_by(WorkSessionRecord.started)
            )
        )
    first = _lines(sessions, student)
    assert first[0].stopped_s > 0, "the generator makes stops"
    with sessions() as db:
        kept = list(db.scalars(select(SessionCycles)))
    assert any(k.stops for k in kept), "a finished session's stops are kept once its days are over"
    assert any(k.order_since is not None for k in kept), "an order's session keeps its first good cycle"
    assert _lines(sessions, student) == first  # now from session_cycles
    assert _lines(sessions, student, cached=False) == first

    # Read from current summaries: no attribution, no state timeline, no day summary, no order's first good
    # cycle (what cost a few queries per session); the rest is batched across the sessions.
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with sessions() as db:
            student_log(db=db, student_id=student, now=NOW, zone=ZONE)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements
    raw = ("FROM cycles WHERE cycles.machine_id", "FROM state_changes WHERE state_changes.machine_id", "machine_days")
    assert not [q for q in statements if any(r in q for r in raw)]
    machines = len({r.machine_id for r in rows})
    assert sum("FROM stop_classifications" in q for q in statements) <= machines

    # A late fault alarm during a stop of one of her sessions (the stop becomes a breakdown's).
    target = next(r for r in rows if first[2].get(r.id))
    stop = first[2][target.id][0][0]
    with sessions.begin() as db:
        db.add(AlarmRecord(machine_id=target.machine_id, ts=stop.start + timedelta(seconds=1), code="L2",
                           message="late", severity="fault", cleared=stop.end))  # fmt: skip
    late = _lines(sessions, student)
    assert late != first
    assert late == _lines(sessions, student, cached=False)

    # The first stop of each of her order sessions classified as setup (counted as setup before the first good
    # cycle of the order on the machine).
    with sessions() as db:
        said = _lines(sessions, student)[2]
    reclassified = 0
    for row in rows:
        if row.order_id is None or not said.get(row.id):
            continue
        with sessions.begin() as db:
            stops_repo.save_classification(
                db=db, who="maitre", now=NOW, machine=db.get_one(Machine, row.machine_id),
                started=said[row.id][0][0].start, code="reglage",
            )  # fmt: skip
        reclassified += 1
    assert reclassified
    setup = _lines(sessions, student)
    assert setup[0].stops_by_reason != late[0].stops_by_reason
    assert setup == _lines(sessions, student, cached=False)

    # Her order's first good cycle moves earlier: a late completed cycle at the start of her first order session.
    ordered = next(r for r in rows if r.order_id is not None)
    with sessions.begin() as db:
        agent = db.get_one(Machine, ordered.machine_id).agent_id
        db.add(Cycle(machine_id=ordered.machine_id, agent_id=agent, seq=10**9 + 7, program="O1", kind="cycle",
                     started=ordered.started + timedelta(seconds=5), ended=ordered.started + timedelta(minutes=2),
                     duration_s=115.0, held_s=0.0, parts=1, outcome="completed"))  # fmt: skip
    earlier = _lines(sessions, student)
    assert earlier == _lines(sessions, student, cached=False)

    # A corrected session, scrap in another, and a master's first-part verdict (NOK: one more scrapped part).
    corrected, scrapped = rows[-1], rows[len(rows) // 2]
    with sessions.begin() as db:
        work_repo.update_work_session(
            db=db, who="maitre", work_session_id=corrected.id,
            changes={"ended": corrected.started + timedelta(minutes=20)}, now=NOW,
        )  # fmt: skip
        db.add(ScrapRecord(session_id=scrapped.id, order_id=scrapped.order_id, machine_id=scrapped.machine_id,
                           ts=scrapped.started + timedelta(minutes=5), quantity=2, reason="late",
                           inspected_by="maitre", declared_by="maitre"))  # fmt: skip
    changed = _lines(sessions, student)
    assert changed[0].scrap == earlier[0].scrap + 2
    assert changed == _lines(sessions, student, cached=False)
    assert ordered.order_id is not None
    with sessions.begin() as db:
        operation = operations_repo.create_operation(
            db=db, who="maitre", now=NOW, order_id=ordered.order_id, fields={"number": 10}
        )
        db.get_one(WorkSessionRecord, ordered.id).operation_id = operation.id
    with sessions.begin() as db:
        first_part_repo.approve(
            db=db, who="maitre", now=ordered.started + timedelta(minutes=10), operation_id=operation.id,
            machine=db.get_one(Machine, ordered.machine_id),
            judged=first_part_repo.Judged(verdict="NOK", measured="12.1", note="cote hors tolérance"),
        )  # fmt: skip
    judged = _lines(sessions, student)
    assert judged[3] == [(ordered.id, "NOK")]
    assert judged == _lines(sessions, student, cached=False)
    later(sessions)
    assert _lines(sessions, student) == judged
