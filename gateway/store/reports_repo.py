"""Reports read from the store: order progress, a student's practice log, utilisation and OEE per machine.

Each loads rows, derives attribution (``attribution_repo``) and hands plain facts
to the pure domain, which does the arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.config import SCHOOL_ZONE
from gateway.domain.calendar import Calendar, Interval, MachineException, planned
from gateway.domain.day_figures import (
    CycleEnd,
    Figures,
    day_start,
    local_day,
    midnights,
    split,
    stops_json,
    stops_of_json,
    total,
)
from gateway.domain.model import CycleFact, WorkSession
from gateway.domain.oee import Counted, Oee, PlannedUse, Utilisation, counted, scores, state_points, timeline
from gateway.domain.operations import StepTally, order_count
from gateway.domain.practice import PracticeLog, practice_log
from gateway.domain.progress import OrderProgress, counting_cycles, order_progress
from gateway.domain.session_totals import SessionTotals, interleaving, log_from_totals, session_totals
from gateway.domain.stops import UNCLASSIFIED, Classified, Stop, classify, pareto, setup_before
from gateway.store import summaries_repo
from gateway.store.attribution_repo import (
    OPEN_END,
    AttributedCycle,
    AttributedPart,
    CycleBounds,
    CycleRow,
    attribute,
    chunks,
    spans_of,
)
from gateway.store.calendar_repo import calendar_of, exceptions_of
from gateway.store.first_part_repo import approvals_of_sessions, operation_tallies
from gateway.store.heap import without_collection
from gateway.store.machines_repo import all_machines, machine_keys
from gateway.store.models import (
    AlarmRecord,
    FirstPartApproval,
    Machine,
    OperationRecord,
    Order,
    ScrapRecord,
    SessionCycles,
    StateChange,
    Student,
    WorkSessionRecord,
)
from gateway.store.orders_repo import get_order, order_references, order_standards
from gateway.store.stops_repo import SiteStops, classified, said_about_starts, site_stops
from gateway.store.students_repo import get_student
from gateway.store.summaries_repo import Pending


def _facts(db: Session, cycles: list[AttributedCycle]) -> list[CycleFact]:
    """The cycles with the standard they are held to: their session's operation's, else their order's."""
    ids = {c.owner.order_id for c in cycles if c.owner is not None and c.owner.order_id is not None}
    standards = order_standards(db=db, order_ids=ids)
    by_operation = _operation_standards(db, {c.owner.id for c in cycles if c.owner is not None})
    facts = []
    for c in cycles:
        owner = c.owner
        standard = None if owner is None else by_operation.get(owner.id)
        if standard is None and owner is not None and owner.order_id is not None:
            standard = standards.get(owner.order_id)
        facts.append(c.fact(standard))
    return facts


def _operation_standards(db: Session, session_ids: set[int]) -> dict[int, float]:
    """Work session id → its operation's standard cycle time, for the sessions whose operation has one."""
    wanted = sorted(session_ids)
    found: dict[int, float] = {}
    for chunk in chunks(wanted):
        stmt = (
            select(WorkSessionRecord.id, OperationRecord.standard_cycle_s)
            .join(OperationRecord, OperationRecord.id == WorkSessionRecord.operation_id)
            .where(WorkSessionRecord.id.in_(chunk), OperationRecord.standard_cycle_s.is_not(None))
        )
        found.update({session_id: standard for session_id, standard in db.execute(stmt).all() if standard is not None})
    return found


# --- order progress ----------------------------------------------------------


def progress(
    *, db: Session, order_id: int, now: datetime, zone: str = SCHOOL_ZONE, bounds: CycleBounds | None = None
) -> OrderProgress:
    """The order's progress; its projected finish advances only through the planned hours of the site of the
    machine it was last worked on (``zone``: the gateway's time zone, for a site with no calendar yet).
    ``bounds``: one ``CycleBounds`` shared by the orders of one read (the orders CSV), read once."""
    return progress_by_operation(db=db, order_id=order_id, now=now, zone=zone, bounds=bounds)[0]


def progress_by_operation(
    *, db: Session, order_id: int, now: datetime, zone: str = SCHOOL_ZONE, bounds: CycleBounds | None = None
) -> tuple[OrderProgress, list[StepTally]]:
    """``progress``, and each operation's own counts (the order's good parts are its last operation's)."""
    order = get_order(db=db, order_id=order_id)
    rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.order_id == order_id)))
    latest = max(rows, key=lambda r: r.started, default=None)
    site = None if latest is None else db.scalar(select(Machine.site).where(Machine.id == latest.machine_id))
    found = attribute(db=db, spans=spans_of(rows), assigned_to=[r.id for r in rows], bounds=bounds)
    mine = {r.id for r in rows}
    cycles = [c for c in found.cycles if c.owner is not None and c.owner.id in mine]
    made = sum(p.row.count for p in found.parts if p.owner is not None and p.owner.id in mine)
    scrap = db.scalar(select(func.sum(ScrapRecord.quantity)).where(ScrapRecord.order_id == order_id)) or 0
    tallies = operation_tallies(db=db, order_id=order_id, rows=rows, parts=found.parts)
    counts = order_count(tallies)
    final = max(tallies, key=lambda t: t.number).operation_id if tallies else None
    operation_of = {r.id: r.operation_id for r in rows}
    facts = _facts(db, cycles)
    paced = counting_cycles(
        [(None if c.owner is None else operation_of[c.owner.id], f) for c, f in zip(cycles, facts, strict=True)],
        final,
    )
    result = order_progress(
        ordered=order.quantity,
        made=made if counts is None else counts.made,
        scrap=int(scrap),
        good=None if counts is None else counts.good,
        pending=0 if counts is None else counts.pending,
        due=order.due,
        cycles=paced,
        now=now,
        calendar=None if site is None else calendar_of(db=db, site=site, zone=zone),
    )
    return result, tallies


def progress_of_orders(
    *, db: Session, orders: list[Order], now: datetime, zone: str = SCHOOL_ZONE, bounds: CycleBounds | None = None
) -> dict[int, OrderProgress]:
    """``progress`` of every order in ``orders``, figure for figure, from a few reads for them all (the orders
    CSV: one order at a time read each order's sessions, cycles and standards apart, 83 s at three years).

    One attribution over every order's sessions gives each cycle and part the owner it has in its own
    order's attribution: an owner is the session covering the event, whichever window brought it in.
    """
    # A row and a fact per cycle of every order, kept to the end (``heap``); the collector is off for the
    # whole export (seconds at years of history), other requests' cyclic garbage waits that long too.
    with without_collection():
        return _progress_of_orders(db, orders, now, zone, bounds or CycleBounds(db))


def _progress_of_orders(
    db: Session, orders: list[Order], now: datetime, zone: str, bounds: CycleBounds
) -> dict[int, OrderProgress]:
    rows_of: dict[int, list[WorkSessionRecord]] = defaultdict(list)
    for chunk in chunks(sorted(o.id for o in orders)):
        for row in db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.order_id.in_(chunk))):
            rows_of[row.order_id or 0].append(row)
    every = [r for rows in rows_of.values() for r in rows]
    order_of = {r.id: r.order_id for r in every}
    # One window per machine, first session to last: every order's sessions cover nearly all of a machine's
    # cycles (301,436 of 313,235 at 1 year), so one read each beats thousands of small ones (3,140 windows).
    spans = {machine_id: (windows[0][0], windows[-1][1]) for machine_id, windows in spans_of(every).items()}
    found = attribute(db=db, spans=spans, assigned_to=[r.id for r in every], bounds=bounds)
    cycles_of: dict[int, list[AttributedCycle]] = defaultdict(list)
    for c in found.cycles:
        if c.owner is not None and c.owner.id in order_of:
            cycles_of[order_of[c.owner.id] or 0].append(c)
    parts_of: dict[int, list[AttributedPart]] = defaultdict(list)
    for p in found.parts:
        if p.owner is not None and p.owner.id in order_of:
            parts_of[order_of[p.owner.id] or 0].append(p)
    owned = [c for cycles in cycles_of.values() for c in cycles]
    fact_of = {id(c): f for c, f in zip(owned, _facts(db, owned), strict=True)}
    scrap_of: dict[int, int] = {}
    for chunk in chunks(sorted(o.id for o in orders)):
        stmt = (
            select(ScrapRecord.order_id, func.sum(ScrapRecord.quantity))
            .where(ScrapRecord.order_id.in_(chunk))
            .group_by(ScrapRecord.order_id)
        )
        scrap_of.update({order_id: int(total or 0) for order_id, total in db.execute(stmt).all()})
    site_of = {row.id: row.site for row in db.execute(select(Machine.id, Machine.site))}
    calendars: dict[str, Calendar] = {}
    result: dict[int, OrderProgress] = {}
    for order in orders:
        rows = rows_of.get(order.id, [])
        latest = max(rows, key=lambda r: r.started, default=None)
        site = None if latest is None else site_of.get(latest.machine_id)
        if site is not None and site not in calendars:
            calendars[site] = calendar_of(db=db, site=site, zone=zone)
        cycles = cycles_of.get(order.id, [])
        parts = parts_of.get(order.id, [])
        made = sum(p.row.count for p in parts)
        tallies = operation_tallies(db=db, order_id=order.id, rows=rows, parts=parts)
        counts = order_count(tallies)
        final = max(tallies, key=lambda t: t.number).operation_id if tallies else None
        operation_of = {r.id: r.operation_id for r in rows}
        paced = counting_cycles(
            [(None if c.owner is None else operation_of[c.owner.id], fact_of[id(c)]) for c in cycles], final
        )
        result[order.id] = order_progress(
            ordered=order.quantity,
            made=made if counts is None else counts.made,
            scrap=scrap_of.get(order.id, 0),
            good=None if counts is None else counts.good,
            pending=0 if counts is None else counts.pending,
            due=order.due,
            cycles=paced,
            now=now,
            calendar=None if site is None else calendars[site],
        )
    return result


# --- practice log ------------------------------------------------------------


@dataclass
class SessionTally:
    cycles: int = 0
    cycle_s: float = 0.0
    parts: int = 0
    completed_s: float = 0.0  # time in the completed cycles alone: what a mean cycle is drawn from
    setup_s: float = 0.0


@dataclass(frozen=True, slots=True)
class StudentLog:
    student: Student
    sessions: list[WorkSessionRecord]
    machines: dict[int, str]  # machine id → site/name
    log: PracticeLog
    per_session: dict[int, SessionTally]
    orders: dict[int, str]  # order id → reference: people know an order by its reference, never its id
    # The masters' first-part verdicts given in these sessions (who, when, what was measured), in time order,
    # and the number of each operation the sessions worked on (operation id → 10, 20, ...).
    approvals: list[FirstPartApproval] = field(default_factory=list)
    operations: dict[int, int] = field(default_factory=dict)
    # Per session, the cycles attribution gives it: only when the log was walked from them (``student_log``'s
    # ``walked``); empty when it was drawn from the sessions' totals.
    cycles: dict[int, list[CycleRow]] = field(default_factory=dict)
    totals: dict[int, SessionTotals] = field(default_factory=dict)  # per session

    def operation_number(self, row: WorkSessionRecord) -> int | None:
        return None if row.operation_id is None else self.operations.get(row.operation_id)

    def order_reference(self, row: WorkSessionRecord) -> str | None:
        """The reference of the session's order; None for practice."""
        return None if row.order_id is None else self.orders.get(row.order_id)


def student_log(
    *,
    db: Session,
    student_id: int,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    zone: str = SCHOOL_ZONE,
    walked: bool = False,
) -> StudentLog:
    """The student's practice log over the sessions overlapping [since, until). Drawn from each session's
    totals (``domain.session_totals``), reading the cycles only of sessions whose completed cycles interleave;
    ``walked``: computed from every cycle (``practice.practice_log``, what the totals are proved against)."""
    student = get_student(db=db, student_id=student_id)
    stmt = select(WorkSessionRecord).where(WorkSessionRecord.student_id == student_id)
    if since is not None:
        stmt = stmt.where((WorkSessionRecord.ended.is_(None)) | (WorkSessionRecord.ended > since))
    if until is not None:
        stmt = stmt.where(WorkSessionRecord.started < until)
    rows = list(db.scalars(stmt.order_by(WorkSessionRecord.started, WorkSessionRecord.id)))
    with without_collection():  # a row and a fact per cycle of years of sessions (``heap``)
        return _student_log(db, student, rows, now, zone, walked=walked)


def _student_log(
    db: Session, student: Student, rows: list[WorkSessionRecord], now: datetime, zone: str, *, walked: bool
) -> StudentLog:
    machines = machine_keys(db=db, ids={r.machine_id for r in rows})
    work = session_sums(db=db, rows=rows, now=now, zone=zone)
    mine = {r.id for r in rows}
    standards = _session_standards(db, mine)
    scrap = 0
    if mine:
        total = db.scalar(select(func.sum(ScrapRecord.quantity)).where(ScrapRecord.session_id.in_(mine)))
        scrap = int(total or 0)
    log, cycles = _log_of(db, rows, _Read(machines, work, standards, now, zone), scrap, walked=walked)
    totals = {r.id: work[r.id].totals for r in rows}
    tally = {
        r.id: SessionTally(
            cycles=totals[r.id].completed,
            cycle_s=totals[r.id].cycle_s,
            parts=work[r.id].parts,
            completed_s=totals[r.id].completed_s,
        )
        for r in rows
    }
    every = [c for r in rows for c in work[r.id].stops]
    setups = {r.id: setup_before(work[r.id].stops, work[r.id].first_good) for r in rows}
    for session_id, seconds in setups.items():
        tally[session_id].setup_s = seconds
    log = replace(
        log,
        setup_s=sum(setups.values()),
        stopped_s=sum(c.stop.seconds for c in every),
        stops_by_reason=tuple((line.code, line.label, line.seconds) for line in pareto(every, UNCLASSIFIED)),
    )
    order_ids = {r.order_id for r in rows if r.order_id is not None}
    references = order_references(db=db, order_ids=order_ids)
    operation_ids = {r.operation_id for r in rows if r.operation_id is not None}
    numbers = (
        dict(
            db.execute(
                select(OperationRecord.id, OperationRecord.number).where(OperationRecord.id.in_(operation_ids))
            ).all()
        )
        if operation_ids
        else {}
    )
    return StudentLog(
        student=student,
        sessions=rows,
        machines=machines,
        log=log,
        per_session=tally,
        orders=references,
        approvals=approvals_of_sessions(db=db, session_ids=mine),
        operations=numbers,
        cycles=cycles,
        totals=totals,
    )


@dataclass(frozen=True, slots=True)
class _Read:
    """What the logs of many sessions are drawn from, read for them all at once."""

    machines: dict[int, str]  # machine id → site/name
    work: dict[int, SessionSums]  # per session
    standards: dict[int, float]  # per session with one
    now: datetime
    zone: str


def _interleaved(rows: list[WorkSessionRecord], work: dict[int, SessionSums]) -> list[WorkSessionRecord]:
    """The sessions of ``rows`` (one student's) whose cycles the log walks: those that interleave."""
    needed = {i for group in interleaving({r.id: work[r.id].totals for r in rows}) for i in group}
    return [r for r in rows if r.id in needed]


def _cycles_of(db: Session, rows: list[WorkSessionRecord], zone: str) -> dict[int, list[CycleRow]]:
    # Not stored: ``session_sums`` just kept these sessions' rows whole, which a read in this transaction may
    # not see yet (``owned_cycles`` would replace them by less).
    owned = owned_cycles(db=db, rows=rows, zone=zone, store=False) if rows else {}
    return {session_id: found for session_id, (found, _) in owned.items()}


def _log_of(
    db: Session,
    rows: list[WorkSessionRecord],
    read: _Read,
    scrap: int,
    *,
    walked: bool,
    cycles: dict[int, list[CycleRow]] | None = None,
) -> tuple[PracticeLog, dict[int, list[CycleRow]]]:
    """The practice log of ``rows`` (one student's sessions, by start), less its stops and setup, from the
    sessions' totals and the cycles of the interleaved ones alone (read unless given in ``cycles``);
    ``walked``: from every cycle, returned too."""
    machines, work, now = read.machines, read.work, read.now
    counted: dict[str, int] = defaultdict(int)
    for row in rows:
        counted[machines[row.machine_id]] += work[row.id].parts
    sessions = [WorkSession(r.id, machines[r.machine_id], r.student_id, r.order_id, r.started, r.ended) for r in rows]
    totals = {r.id: work[r.id].totals for r in rows}
    if cycles is None:
        cycles = _cycles_of(db, rows if walked else _interleaved(rows, work), read.zone)
    if not walked:
        log = log_from_totals(
            sessions=sessions, totals=totals, standards=read.standards, counted=dict(counted), scrap=scrap, now=now,
            cycles=cycles,
        )  # fmt: skip
        return log, {}
    standards = read.standards
    facts = [
        ((c.ended, c.id), _fact(c, machines[r.machine_id], standards.get(r.id))) for r in rows for c in cycles[r.id]
    ]
    facts.sort(key=lambda pair: pair[0])  # as attribution gives them: by end, then id
    log = practice_log(sessions=sessions, cycles=[f for _, f in facts], scrap=scrap, now=now, counted=dict(counted))
    return log, cycles


def practice_logs(*, db: Session, students: list[Student], now: datetime, zone: str) -> dict[int, PracticeLog]:
    """Student id → her whole ``student_log``'s figures (not its stops and setup times, left at none), read for
    every student at once: their sessions, the sessions' totals, standards and parts in a few batched reads
    and the scrap grouped by student, where ``student_log`` per student costs a dozen queries each."""
    wanted = sorted({s.id for s in students})
    rows: list[WorkSessionRecord] = []
    scrap: dict[int, int] = {}
    for chunk in chunks(wanted):
        stmt = select(WorkSessionRecord).where(WorkSessionRecord.student_id.in_(chunk))
        rows.extend(db.scalars(stmt.order_by(WorkSessionRecord.started, WorkSessionRecord.id)))
        summed = (
            select(WorkSessionRecord.student_id, func.sum(ScrapRecord.quantity))
            .join(WorkSessionRecord, WorkSessionRecord.id == ScrapRecord.session_id)
            .where(WorkSessionRecord.student_id.in_(chunk))
            .group_by(WorkSessionRecord.student_id)
        )
        scrap.update((student_id, int(total or 0)) for student_id, total in db.execute(summed) if student_id)
    rows.sort(key=lambda r: (r.started, r.id))
    with without_collection():  # a few objects per session of years of every student (``heap``)
        machines = machine_keys(db=db, ids={r.machine_id for r in rows})
        work = session_sums(db=db, rows=rows, now=now, zone=zone, stops=False)
        read = _Read(machines, work, _session_standards(db, {r.id for r in rows}), now, zone)
        by_student: dict[int, list[WorkSessionRecord]] = {student_id: [] for student_id in wanted}
        for row in rows:
            if row.student_id is not None:
                by_student[row.student_id].append(row)
        # The interleaved sessions' cycles of every student, read at once.
        cycles = _cycles_of(db, [r for mine in by_student.values() for r in _interleaved(mine, work)], zone)
        return {
            student_id: _log_of(db, mine, read, scrap.get(student_id, 0), walked=False, cycles=cycles)[0]
            for student_id, mine in by_student.items()
        }


def _fact(cycle: CycleRow, machine: str, standard: float | None) -> CycleFact:
    return CycleFact(
        machine=machine,
        started=cycle.started,
        ended=cycle.ended,
        duration_s=cycle.duration_s,
        parts=cycle.parts,
        outcome=cycle.outcome,
        held_s=cycle.held_s,
        program=cycle.program,
        standard_s=standard,
    )


def owned_cycles(
    *, db: Session, rows: list[WorkSessionRecord], zone: str, bounds: CycleBounds | None = None, store: bool = True
) -> dict[int, tuple[list[CycleRow], int]]:
    """Per work session, the cycles attribution gives it (by end, then id) and the parts counted in them. A
    finished session's are cached (``session_cycles``) while the days of its machine it spans (a day either
    side) are current (``summaries_repo.Pending``); the others are attributed now, and the finished ones
    stored unless ``store`` is False (what ``session_work`` kept, stops included, would be replaced by less)."""
    seen = summaries_repo.pending(db)
    hits = _fresh(db, rows, seen)
    owned = {session_id: _cached_cycles(hit) for session_id, hit in hits.items()}
    missing = [r for r in rows if r.id not in owned]
    if not missing:
        return owned
    owned.update(_attributed(db, missing, bounds))
    stored = [_summary_row(row, *owned[row.id]) for row in missing if row.ended is not None and store]
    if stored:
        summaries_repo.keep_computed(db, summaries_repo.Computed(sessions=stored), seen, zone)
    return owned


def _fresh(db: Session, rows: list[WorkSessionRecord], seen: Pending) -> dict[int, SessionCycles]:
    """The cached summaries of the finished sessions among ``rows`` that are current."""
    done = [r for r in rows if r.ended is not None]
    if not done:
        return {}
    cached = summaries_repo.session_cycles(db, [r.id for r in done])
    machines = {m.id: m for m in db.scalars(select(Machine).where(Machine.id.in_({r.machine_id for r in done})))}
    return {
        row.id: hit
        for row in done
        if (hit := cached.get(row.id)) is not None
        and not seen.session_stale(machines[row.machine_id], hit.first, hit.last)
    }


def _cached_cycles(hit: SessionCycles) -> tuple[list[CycleRow], int]:
    return [_cycle_row(hit.machine_id, c) for c in hit.cycles], int(hit.parts)


def _attributed(
    db: Session, rows: list[WorkSessionRecord], bounds: CycleBounds | None
) -> dict[int, tuple[list[CycleRow], int]]:
    """Per session of ``rows``, the cycles and parts attribution gives it now."""
    if not rows:
        return {}
    found = attribute(db=db, spans=spans_of(rows), assigned_to=[r.id for r in rows], bounds=bounds)
    owned: dict[int, tuple[list[CycleRow], int]] = {r.id: ([], 0) for r in rows}
    for cycle in found.cycles:
        if cycle.owner is not None and cycle.owner.id in owned:
            owned[cycle.owner.id][0].append(cycle.row)
    parts: dict[int, int] = defaultdict(int)
    for part in found.parts:
        if part.owner is not None and part.owner.id in owned:
            parts[part.owner.id] += part.row.count
    return {session_id: (cycles, parts[session_id]) for session_id, (cycles, _) in owned.items()}


def _summary_row(
    row: WorkSessionRecord,
    cycles: list[CycleRow],
    parts: int,
    *,
    stops: list[Stop] | None = None,
    first_good: datetime | None = None,
    order_since: datetime | None = None,
) -> dict[str, Any]:
    """A finished session's ``session_cycles`` row. Its first date reaches back to its order's first session
    on the machine when its first good cycle is kept: a mark on any day in between makes it stale."""
    assert row.ended is not None
    start = row.started if order_since is None else min(row.started, order_since)
    return {
        "session_id": row.id,
        "machine_id": row.machine_id,
        "first": (start - timedelta(days=1)).astimezone(UTC).date(),
        "last": (row.ended + timedelta(days=1)).astimezone(UTC).date(),
        "cycles": [_cycle_json(c) for c in cycles],
        "parts": parts,
        "stops": None if stops is None else stops_json(stops),
        "first_good": first_good,
        "order_since": order_since,
        **_totals_columns(session_totals(cycles)),
    }


TOTALS = tuple(f.name for f in fields(SessionTotals))  # ``session_cycles`` has a column of each name


def _totals_columns(totals: SessionTotals) -> dict[str, Any]:
    return {name: getattr(totals, name) for name in TOTALS}


def _totals_of(row: Any) -> SessionTotals | None:
    """A kept row's totals; None in a row kept before they were (0021)."""
    if row.completed is None:
        return None
    return SessionTotals(**{name: getattr(row, name) for name in TOTALS})


@dataclass(frozen=True, slots=True)
class SessionWork:
    """What a practice log line needs of a work session."""

    cycles: list[CycleRow]  # attributed to it, by end then id
    parts: int
    stops: list[Classified]  # that began in it, with what people said about them
    first_good: datetime | None  # what its setup is measured against (``setup_time``)


def session_work(*, db: Session, rows: list[WorkSessionRecord], now: datetime, zone: str) -> dict[int, SessionWork]:
    """Per work session, its cycles, parts, stops and first good cycle: ``owned_cycles``, ``session_stops``
    and ``setup_time`` together. A finished session's come from ``session_cycles`` while current (its days,
    as ``owned_cycles``; for an order's session also while the order's first session on its machine is the
    one its first good cycle was found from); the others are computed now, and the finished ones stored.
    Current ones cost no query of their own: the reads are batched across the sessions."""
    seen = summaries_repo.pending(db)
    hits = _fresh(db, rows, seen)
    since = _orders_since(db, rows)
    complete = {
        r.id
        for r in rows
        if (hit := hits.get(r.id)) is not None
        and hit.stops is not None
        and (r.order_id is None or (hit.order_since is not None and hit.order_since == since.get(_key(r))))
    }
    bounds = CycleBounds(db)
    owned = {session_id: _cached_cycles(hit) for session_id, hit in hits.items()}
    owned.update(_attributed(db, [r for r in rows if r.id not in owned], bounds))
    todo = [r for r in rows if r.id not in complete]
    # A current row kept before 0021 is stored again with its totals, taken from its cycles: once.
    restore = [*todo, *(r for r in rows if r.id in complete and hits[r.id].completed is None)]
    stops = {session_id: stops_of_json(hits[session_id].stops or []) for session_id in complete}
    stops.update(_stops_in(db, todo, now, zone, seen))
    firsts: dict[int, datetime | None] = {}
    orders: dict[tuple[int, int], datetime | None] = {}
    for row in rows:
        if row.order_id is None:  # practice: its own first completed cycle
            firsts[row.id] = min((c.started for c in owned[row.id][0] if c.outcome == "completed"), default=None)
        elif row.id in complete:
            firsts[row.id] = hits[row.id].first_good
        else:
            if _key(row) not in orders:
                orders[_key(row)] = first_good_cycle(
                    db=db, order_id=row.order_id, machine_id=row.machine_id, bounds=bounds
                )
            firsts[row.id] = orders[_key(row)]
    # A first good cycle after a session's end is kept as none: all its setup stops came before either way.
    stored = [
        _summary_row(
            row,
            *owned[row.id],
            stops=stops[row.id] if _days_over(row, now, zone) else None,
            first_good=None if row.order_id is None or (f := firsts[row.id]) is None or f >= row.ended else f,
            order_since=None if row.order_id is None else since.get(_key(row)),
        )
        for row in restore
        if row.ended is not None
    ]
    if stored:
        summaries_repo.keep_computed(db, summaries_repo.Computed(sessions=stored), seen, zone)
    said = _classify(db, rows, stops, zone)
    return {r.id: SessionWork(owned[r.id][0], owned[r.id][1], said[r.id], firsts[r.id]) for r in rows}


@dataclass(frozen=True, slots=True)
class SessionSums:
    """What a practice log line needs of a work session, without its cycles: their totals."""

    totals: SessionTotals
    parts: int
    stops: list[Classified]  # that began in it, with what people said about them
    first_good: datetime | None  # what its setup is measured against (``setup_time``)


def session_sums(
    *, db: Session, rows: list[WorkSessionRecord], now: datetime, zone: str, stops: bool = True
) -> dict[int, SessionSums]:
    """``session_work`` with the cycles' totals in place of the cycles. A finished session whose kept row is
    current and complete (as ``session_work`` judges it) and has its totals is read without its ``cycles``
    column; the others go through ``session_work`` (which stores them, totals included). ``stops=False``: the
    kept rows' stops are not read (left empty; first good cycles too): for figures that show none."""
    seen = summaries_repo.pending(db)
    heads = summaries_repo.session_heads(db, [r.id for r in rows if r.ended is not None])
    machines = {
        m.id: m for m in db.scalars(select(Machine).where(Machine.id.in_({h.machine_id for h in heads.values()})))
    }
    since = _orders_since(db, [r for r in rows if r.id in heads])
    served: dict[int, tuple[SessionTotals, Any]] = {}
    for row in rows:
        head = heads.get(row.id)
        if head is None or head.stops is None or (totals := _totals_of(head)) is None:
            continue
        if seen.session_stale(machines[head.machine_id], head.first, head.last):
            continue
        if row.order_id is not None and (head.order_since is None or head.order_since != since.get(_key(row))):
            continue
        served[row.id] = (totals, head)
    rest = [r for r in rows if r.id not in served]
    found: dict[int, SessionSums] = {}
    if rest:
        work = session_work(db=db, rows=rest, now=now, zone=zone)
        for row in rest:
            done = work[row.id]
            found[row.id] = SessionSums(session_totals(done.cycles), done.parts, done.stops, done.first_good)
    mine = [r for r in rows if r.id in served]
    if not stops:
        found.update((r.id, SessionSums(served[r.id][0], int(served[r.id][1].parts), [], None)) for r in mine)
        return found
    said = _classify(db, mine, {r.id: stops_of_json(served[r.id][1].stops) for r in mine}, zone)
    for row in mine:
        totals, head = served[row.id]
        # A practice session's first good cycle is its own earliest completed one; an order's was kept.
        first_good = totals.earliest_started if row.order_id is None else head.first_good
        found[row.id] = SessionSums(totals, int(head.parts), said[row.id], first_good)
    return found


def _key(row: WorkSessionRecord) -> tuple[int, int]:
    assert row.order_id is not None
    return row.order_id, row.machine_id


def _orders_since(db: Session, rows: list[WorkSessionRecord]) -> dict[tuple[int, int], datetime]:
    """(order, machine) → the start of the order's first session on the machine, for the orders of ``rows``."""
    wanted = sorted({r.order_id for r in rows if r.order_id is not None})
    found: dict[tuple[int, int], datetime] = {}
    for chunk in chunks(wanted):
        stmt = (
            select(WorkSessionRecord.order_id, WorkSessionRecord.machine_id, func.min(WorkSessionRecord.started))
            .where(WorkSessionRecord.order_id.in_(chunk))
            .group_by(WorkSessionRecord.order_id, WorkSessionRecord.machine_id)
        )
        for order_id, machine_id, first in db.execute(stmt).all():
            if order_id is not None and first is not None:
                found[(order_id, machine_id)] = first if first.tzinfo is not None else first.replace(tzinfo=UTC)
    return found


def _days_over(row: WorkSessionRecord, now: datetime, zone: str) -> bool:
    """Whether the whole days a finished session's stops are computed over are past: only then are they kept
    (a stop under way at ``now`` would grow)."""
    assert row.ended is not None
    tz = ZoneInfo(zone)
    return datetime.combine(row.ended.astimezone(tz).date() + timedelta(days=1), time(), tzinfo=tz) <= now


def _classify(
    db: Session, rows: list[WorkSessionRecord], stops: dict[int, list[Stop]], zone: str
) -> dict[int, list[Classified]]:
    """Each session's stops with what people said about them, read now: one read per machine."""
    machines = {m.id: m for m in db.scalars(select(Machine).where(Machine.id.in_({r.machine_id for r in rows})))}
    sites: dict[str, SiteStops] = {}
    found: dict[int, list[Classified]] = {}
    for machine_id, machine in machines.items():
        mine = [r for r in rows if r.machine_id == machine_id]
        starts = [s.start for r in mine for s in stops[r.id]]
        said = said_about_starts(db=db, machine_id=machine_id, starts=starts) if starts else {}
        if machine.site not in sites:
            sites[machine.site] = site_stops(db=db, site=machine.site, zone=zone)
        site = sites[machine.site]
        for row in mine:
            found[row.id] = classify(
                stops[row.id], said, alarm_is_breakdown=site.alarm_is_breakdown, breakdown=site.breakdown
            )
    return found


def _cycle_json(c: CycleRow) -> list[Any]:
    return [c.id, c.started.isoformat(), c.ended.isoformat(), c.duration_s, c.parts, c.outcome, c.held_s, c.program]


def _cycle_row(machine_id: int, c: list[Any]) -> CycleRow:
    cycle_id, started, ended, duration, parts, outcome, held, program = c
    return CycleRow(
        cycle_id, machine_id, 0, 0, program, "cycle", datetime.fromisoformat(started), datetime.fromisoformat(ended),
        float(duration), float(held), int(parts), str(outcome),
    )  # fmt: skip


def _session_standards(db: Session, session_ids: set[int]) -> dict[int, float]:
    """Work session id → the standard its cycles are held to: its operation's, else its order's (``_facts``)."""
    wanted = sorted(session_ids)
    by_operation = _operation_standards(db, set(wanted))
    order_of: dict[int, int] = {}
    for chunk in chunks(wanted):
        stmt = select(WorkSessionRecord.id, WorkSessionRecord.order_id).where(
            WorkSessionRecord.id.in_(chunk), WorkSessionRecord.order_id.is_not(None)
        )
        order_of.update(
            (session_id, order_id) for session_id, order_id in db.execute(stmt).all() if order_id is not None
        )
    by_order = order_standards(db=db, order_ids=set(order_of.values()))
    found = dict(by_operation)
    for session_id, order_id in order_of.items():
        standard = by_order.get(order_id)
        if session_id not in found and standard is not None:
            found[session_id] = standard
    return found


# --- utilisation and OEE -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MachineReport:
    machine: Machine
    period: Counted
    use: Utilisation  # the whole window, day and night
    planned: PlannedUse  # the window seen through the site's calendar
    intervals: list[Interval]  # the planned intervals counted (up to now)
    stops: list[Classified]  # stops in planned time, with what people said about them
    made: int
    scrap: int
    cycles: int
    scores: Oee

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end


def machine_report(
    *,
    db: Session,
    machine: Machine,
    start: datetime,
    end: datetime,
    now: datetime,
    zone: str,
    summaries: bool = True,
) -> MachineReport:
    """The machine over [start, end), counted up to ``now`` (see ``Counted``), against its site's calendar
    (``zone``: the gateway's time zone, for a site with no calendar of its own yet). Whole finished days come
    from their summaries (``summaries_repo``) where these are current; ``summaries=False``: all from raw."""
    seen = summaries_repo.pending(db) if summaries else None
    return _machine_report(db, machine, counted(start, end, now), zone, seen)


def _machine_report(
    db: Session,
    machine: Machine,
    period: Counted,
    zone: str,
    seen: Pending | None,
    *,
    sites: dict[str, tuple[Calendar, SiteStops]] | None = None,
) -> MachineReport:
    start, end = period.start, period.until
    settled = _settled(db, machine, zone, sites)
    intervals = planned(settled.calendar, start, end, settled.exceptions) if start < end else []
    summed = total(_figures(db, machine, (start, end), settled, seen=seen, zone=zone), settled.site.threshold_s)
    stopped = classified(db=db, machine_id=machine.id, found=summed.stops, site=settled.site)
    # Planned downtime (ISO 22400-2): stops people classified as planned (a lesson, maintenance).
    downtime = sum(c.stop.seconds for c in stopped if c.reason is not None and c.reason.category == "planned")
    use_planned = replace(summed.planned, planned_downtime_s=min(downtime, summed.planned.calendar_s))
    scrap_stmt = select(func.sum(ScrapRecord.quantity)).where(
        ScrapRecord.machine_id == machine.id, ScrapRecord.ts >= start, ScrapRecord.ts < end
    )
    scrap = int(db.scalar(scrap_stmt) or 0)
    earned, timed = _earned(db, summed.paced)
    result = scores(use_planned, earned_s=earned, timed=timed, made=summed.made, scrap=scrap)
    return MachineReport(
        machine, period, summed.use, use_planned, intervals, stopped, summed.made, scrap, summed.cycles, result
    )


def _earned(db: Session, paced: dict[int, tuple[int, int]]) -> tuple[float, bool]:
    """Σ standard × parts over the sessions' cycles ended in planned time, and whether any had a standard."""
    standards = _session_standards(db, set(paced)) if paced else {}
    earned, timed = 0.0, False
    for session_id, (cycles, parts) in sorted(paced.items()):
        standard = standards.get(session_id)
        if standard is not None and cycles:
            earned += standard * parts
            timed = True
    return earned, timed


def _figures(
    db: Session,
    machine: Machine,
    window: tuple[datetime, datetime],
    settled: _Settled,
    *,
    seen: Pending | None,
    zone: str,
) -> list[Figures]:
    """The machine's figures over [start, until), cut at its site's local midnights: each whole day from its
    summary when one is stored and current, the rest from raw rows in as few passes as there are gaps;
    the whole days computed are stored for the next reader (``seen``: None reads and stores none)."""
    start, until = window
    local = settled.calendar.zone
    tz = ZoneInfo(local)
    cuts = midnights(start, until, local)
    pieces = list(pairwise(cuts))
    whole: dict[int, date] = {}
    for index, (lo, hi) in enumerate(pieces):
        day = local_day(lo, local)
        if lo == day_start(day, tz) and hi == day_start(day + timedelta(days=1), tz):
            whole[index] = day
    found: dict[int, Figures] = {}
    if seen is not None and whole:
        rows = summaries_repo.stored(db, machine.id, min(whole.values()), max(whole.values()))
        for index, day in whole.items():
            row = rows.get(day)
            if row is not None and (row[0] or not seen.stale(machine, day, local)):
                lo, hi = pieces[index]
                found[index] = summaries_repo.figures_of(lo, hi, row[1])
    computed: dict[date, Figures] = {}
    index = 0
    while index < len(pieces):
        if index in found:
            index += 1
            continue
        run = index
        while run < len(pieces) and run not in found:
            run += 1
        for offset, figures in enumerate(_raw_figures(db, machine, cuts[index : run + 1], settled)):
            found[index + offset] = figures
            if index + offset in whole:
                computed[whole[index + offset]] = figures
        index = run
    if seen is not None:
        summaries_repo.keep(db, machine.id, computed, seen, zone)
    return [found[i] for i in range(len(pieces))]


def summarise(*, db: Session, machine: Machine, first: date, last: date, zone: str) -> None:
    """Store the machine's summaries of the local days [first, last] that are missing or stale (the hourly
    job keeps the recent ones ready; retention makes sure of them before it purges raw rows)."""
    settled = _settled(db, machine, zone)
    tz = ZoneInfo(settled.calendar.zone)
    window = (day_start(first, tz), day_start(last + timedelta(days=1), tz))
    _figures(db, machine, window, settled, seen=summaries_repo.pending(db), zone=zone)


def site_zone(*, db: Session, machine: Machine, zone: str) -> str:
    """The zone of the machine's local days: its site calendar's (``zone``: the gateway's, without one)."""
    return calendar_of(db=db, site=machine.site, zone=zone).zone


def _raw_figures(db: Session, machine: Machine, cuts: list[datetime], settled: _Settled) -> list[Figures]:
    """The figures of each stretch between ``cuts``, from raw rows read in one pass."""
    lo, hi = cuts[0], cuts[-1]
    points = state_points(_changes(db, machine.id, lo, hi), _faults(db, machine.id, lo, hi))
    intervals = planned(settled.calendar, lo, hi, settled.exceptions)
    found = attribute(db=db, spans={machine.id: (lo, hi)})
    cycles = [
        CycleEnd(c.row.ended, c.row.outcome == "completed", c.row.parts, None if c.owner is None else c.owner.id)
        for c in found.cycles
        if lo <= c.row.ended < hi
    ]
    parts = [(p.row.ts, p.row.count) for p in found.parts if lo <= p.row.ts < hi]
    return split(timeline(points, lo, hi), intervals, cycles, parts, cuts, threshold_s=settled.site.threshold_s)


@dataclass(frozen=True, slots=True)
class _Settled:
    """What a machine's stops read that does not change from one day to the next: read once for many days."""

    calendar: Calendar
    exceptions: list[MachineException]
    site: SiteStops


def _settled(
    db: Session, machine: Machine, zone: str, sites: dict[str, tuple[Calendar, SiteStops]] | None = None
) -> _Settled:
    """``sites``: what was read of each site for the machines before this one (the reports of every machine)."""
    sites = {} if sites is None else sites
    if machine.site not in sites:
        sites[machine.site] = (
            calendar_of(db=db, site=machine.site, zone=zone),
            site_stops(db=db, site=machine.site, zone=zone),
        )
    calendar, stops = sites[machine.site]
    return _Settled(calendar, exceptions_of(db=db, machine_id=machine.id), stops)


def machine_stops(
    *,
    db: Session,
    machine: Machine,
    start: datetime,
    end: datetime,
    now: datetime,
    zone: str,
    settled: _Settled | None = None,
    seen: Pending | None = None,
) -> list[Classified]:
    """``machine_report(...).stops`` without the rest of the report: no scrap or standards are read."""
    until = counted(start, end, now).until
    settled = settled or _settled(db, machine, zone)
    seen = seen or summaries_repo.pending(db)
    summed = total(_figures(db, machine, (start, until), settled, seen=seen, zone=zone), settled.site.threshold_s)
    return classified(db=db, machine_id=machine.id, found=summed.stops, site=settled.site)


def machine_reports(
    *, db: Session, start: datetime, end: datetime, now: datetime, zone: str, name: str | None = None
) -> list[MachineReport]:
    """``machine_report`` of every machine (or of those called ``name``), by site then name."""
    machines = all_machines(db=db, name=name)
    seen = summaries_repo.pending(db)
    sites: dict[str, tuple[Calendar, SiteStops]] = {}  # each site's calendar and stop settings, read once
    with without_collection():  # a year is 7,300 day rows of 20 machines, their stops with them (``heap``)
        return [_machine_report(db, m, counted(start, end, now), zone, seen, sites=sites) for m in machines]


def _changes(db: Session, machine_id: int, start: datetime, end: datetime) -> list[tuple[datetime, str, str | None]]:
    # Three columns, not ORM objects: a year of a machine is tens of thousands of state changes.
    columns = (StateChange.ts, StateChange.availability, StateChange.execution)
    before = (
        select(*columns)
        .where(StateChange.machine_id == machine_id, StateChange.ts < start)
        .order_by(StateChange.ts.desc(), StateChange.id.desc())
        .limit(1)
    )
    inside = (
        select(*columns)
        .where(StateChange.machine_id == machine_id, StateChange.ts >= start, StateChange.ts < end)
        .order_by(StateChange.ts, StateChange.id)
    )
    return [(ts, availability, execution) for ts, availability, execution in [*db.execute(before), *db.execute(inside)]]


def _faults(db: Session, machine_id: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime | None]]:
    stmt = select(AlarmRecord).where(
        AlarmRecord.machine_id == machine_id,
        AlarmRecord.severity == "fault",
        AlarmRecord.ts < end,
        (AlarmRecord.cleared.is_(None)) | (AlarmRecord.cleared > start),
    )
    return [(a.ts, a.cleared) for a in db.scalars(stmt)]


# How far back the kiosk looks for "the current or last stop": a day, so that the first minutes after midnight
# still show the evening's stop.
RECENT = timedelta(hours=24)


def recent_stops(*, db: Session, machine: Machine, now: datetime, zone: str) -> list[Classified]:
    """The machine's stops of the last day, up to now: the kiosk offers the last one to classify."""
    return machine_stops(db=db, machine=machine, start=now - RECENT, end=now, now=now, zone=zone)


# --- stops in work sessions, setup time -------------------------------------


def session_stops(
    *, db: Session, rows: list[WorkSessionRecord], now: datetime, zone: str
) -> dict[int, list[Classified]]:
    """The stops that began in each work session. Computed over whole days of the session's machine, so that
    each stop starts where the reports and the kiosk say it starts (a stop is known by its start)."""
    seen = summaries_repo.pending(db) if rows else None
    return _classify(db, rows, _stops_in(db, rows, now, zone, seen), zone)


def _stops_in(
    db: Session, rows: list[WorkSessionRecord], now: datetime, zone: str, seen: Pending | None
) -> dict[int, list[Stop]]:
    """``session_stops`` before classification."""
    tz = ZoneInfo(zone)
    days: dict[tuple[int, datetime, datetime], list[Stop]] = {}
    found: dict[int, list[Stop]] = {}
    settled: dict[int, _Settled] = {}  # per machine: its calendar and its site's stop settings, read once
    for row in rows:
        until = row.ended or now
        start = datetime.combine(row.started.astimezone(tz).date(), time(), tzinfo=tz)
        end = datetime.combine(until.astimezone(tz).date() + timedelta(days=1), time(), tzinfo=tz)
        key = (row.machine_id, start, end)
        if key not in days:
            machine = db.get_one(Machine, row.machine_id)
            if machine.id not in settled:
                settled[machine.id] = _settled(db, machine, zone)
            window = (start, counted(start, end, now).until)
            figures = _figures(db, machine, window, settled[machine.id], seen=seen, zone=zone)
            days[key] = total(figures, settled[machine.id].site.threshold_s).stops
        found[row.id] = [s for s in days[key] if row.started <= s.start < until]
    return found


def first_good_cycles(*, db: Session, order_id: int) -> dict[int, datetime]:
    """Machine id → start of the order's first completed cycle there (its first good cycle)."""
    rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.order_id == order_id)))
    found = attribute(db=db, spans=spans_of(rows), assigned_to=[r.id for r in rows])
    mine = {r.id for r in rows}
    first: dict[int, datetime] = {}
    for cycle in found.cycles:
        if cycle.owner is None or cycle.owner.id not in mine or cycle.row.outcome != "completed":
            continue
        machine_id = cycle.row.machine_id
        first[machine_id] = min(first.get(machine_id, cycle.row.started), cycle.row.started)
    return first


def first_good_cycle(
    *, db: Session, order_id: int, machine_id: int, bounds: CycleBounds | None = None
) -> datetime | None:
    """``first_good_cycles(...)[machine_id]`` without attributing the whole order: the order's sessions on
    the machine are read from the first on, over a window that doubles until a good cycle is found.

    Exact: a cycle owned by one of these sessions overlaps it (or was assigned to one, read wherever it
    is), so every such cycle that started by the window's end is in the window; the earliest found there
    is the earliest of all.
    """
    columns = (WorkSessionRecord.id, WorkSessionRecord.machine_id, WorkSessionRecord.started, WorkSessionRecord.ended)
    rows = db.execute(select(*columns).where(WorkSessionRecord.order_id == order_id)).all()
    here = sorted((r for r in rows if r.machine_id == machine_id), key=lambda r: (r.started, r.id))
    if not here:
        return None
    everyone = [r.id for r in rows]
    mine = set(everyone)
    bounds = bounds or CycleBounds(db)
    lo = here[0].started
    step = 1
    while True:
        last = step >= len(here)
        hi = max(r.ended or OPEN_END for r in here) if last else max(r.ended or OPEN_END for r in here[:step])
        found = attribute(db=db, spans={machine_id: (lo, hi)}, assigned_to=everyone, bounds=bounds)
        starts = [
            c.row.started
            for c in found.cycles
            if c.owner is not None
            and c.owner.id in mine
            and c.row.outcome == "completed"
            and c.row.machine_id == machine_id
            and (last or c.row.started <= hi)
        ]
        if starts or last:
            return min(starts, default=None)
        step *= 2


def setup_time(
    *,
    db: Session,
    rows: list[WorkSessionRecord],
    stopped: dict[int, list[Classified]],
    bounds: CycleBounds | None = None,
) -> dict[int, float]:
    """Per work session, its setup: setup stops before the first good cycle of its order on its machine
    (for practice, before the session's own first completed cycle). The first good cycle is looked for
    only for sessions with a setup stop: without one, it changes nothing."""
    bounds = bounds or CycleBounds(db)
    firsts: dict[tuple[int, int], datetime | None] = {}
    setup: dict[int, float] = {}
    for row in rows:
        mine = stopped.get(row.id, [])
        if not any(c.reason is not None and c.reason.category == "setup" for c in mine):
            setup[row.id] = setup_before(mine, None)
            continue
        if row.order_id is not None:
            key = (row.order_id, row.machine_id)
            if key not in firsts:
                firsts[key] = first_good_cycle(db=db, order_id=row.order_id, machine_id=row.machine_id, bounds=bounds)
            first = firsts[key]
        else:
            found = attribute(db=db, spans=spans_of([row]), assigned_to=[row.id], bounds=bounds)
            starts = [c.row.started for c in found.cycles if c.owner is not None and c.row.outcome == "completed"]
            first = min(starts, default=None)
        setup[row.id] = setup_before(mine, first)
    return setup
