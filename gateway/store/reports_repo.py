"""Reports read from the store: a student's practice log, utilisation and OEE per machine, and what attribution
gives work sessions, kept with the finished ones (order progress reads it: ``progress_repo``).

Each loads rows, derives attribution (``attribution_repo``) and hands plain facts
to the pure domain, which does the arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session

from gateway.config import SCHOOL_ZONE
from gateway.domain.calendar import Calendar, Interval, MachineException, planned
from gateway.domain.day_figures import (
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
from gateway.domain.month_figures import first_of, last_of, merged, whole_months
from gateway.domain.oee import Counted, Oee, PlannedUse, Utilisation, counted, scores, state_points, timeline
from gateway.domain.practice import PracticeLog, practice_log
from gateway.domain.session_totals import SessionTotals, interleaving, log_from_totals, session_totals
from gateway.domain.stops import UNCLASSIFIED, Classified, Stop, classify, pareto, setup_before
from gateway.store import month_sums_repo, summaries_repo, window_cycles
from gateway.store.attribution_repo import (
    JOIN_GAP,
    OPEN_END,
    CycleBounds,
    CycleRow,
    attribute,
    id_filters,
    spans_of,
)
from gateway.store.calendar_repo import calendar_of, exceptions_of, exceptions_of_machines
from gateway.store.first_part_repo import approvals_of_sessions
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
from gateway.store.orders_repo import order_references, order_standards
from gateway.store.rows import chunks
from gateway.store.session_rows import SessionRow, Worked, session_rows
from gateway.store.stops_repo import SiteStops, classified, said_about_machines, said_about_starts, site_stops
from gateway.store.students_repo import get_student
from gateway.store.summaries_repo import Pending


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
    log, cycles = log_of(db, rows, LogRead(machines, work, standards, now, zone), scrap, walked=walked)
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
class LogRead:
    """What a log is drawn from, read beforehand: a student's page reads it from ORM rows, the practice-logs
    CSV (``log_lines``) from the plain columns it read for every student."""

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


def log_of(
    db: Session,
    rows: list[WorkSessionRecord],
    read: LogRead,
    scrap: int,
    *,
    walked: bool,
) -> tuple[PracticeLog, dict[int, list[CycleRow]]]:
    """The practice log of ``rows`` (one student's sessions, by start), less its stops and setup, from the
    sessions' totals and the cycles of the interleaved ones alone; ``walked``: from every cycle, returned too."""
    machines, work, now = read.machines, read.work, read.now
    counted: dict[str, int] = defaultdict(int)
    for row in rows:
        counted[machines[row.machine_id]] += work[row.id].parts
    sessions = [WorkSession(r.id, machines[r.machine_id], r.student_id, r.order_id, r.started, r.ended) for r in rows]
    totals = {r.id: work[r.id].totals for r in rows}
    cycles = _cycles_of(db, rows if walked else _interleaved(rows, work), read.zone)
    if not walked:
        log = log_from_totals(
            sessions=sessions, totals=totals, standards=read.standards, counted=dict(counted), scrap=scrap, now=now,
            cycles=cycles,
        )  # fmt: skip
        return log, {}
    standards = read.standards
    facts = [
        ((c.ended, c.id), cycle_fact(c, machines[r.machine_id], standards.get(r.id)))
        for r in rows
        for c in cycles[r.id]
    ]
    facts.sort(key=lambda pair: pair[0])  # as attribution gives them: by end, then id
    log = practice_log(sessions=sessions, cycles=[f for _, f in facts], scrap=scrap, now=now, counted=dict(counted))
    return log, cycles


def cycle_fact(cycle: CycleRow, machine: str, standard: float | None) -> CycleFact:
    """An attributed cycle as the domain reads it, on its machine's key, held to ``standard``."""
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
    db: Session, rows: list[WorkSessionRecord], bounds: CycleBounds | None, gap: timedelta = JOIN_GAP
) -> dict[int, tuple[list[CycleRow], int]]:
    """Per session of ``rows``, the cycles and parts attribution gives it now (``gap``: ``spans_of``'s)."""
    if not rows:
        return {}
    found = attribute(db=db, spans=spans_of(rows, gap), assigned_to=[r.id for r in rows], bounds=bounds)
    owned: dict[int, tuple[list[CycleRow], int]] = {r.id: ([], 0) for r in rows}
    for cycle in found.cycles:
        if cycle.owner is not None and cycle.owner.id in owned:
            owned[cycle.owner.id][0].append(cycle.row)
    parts: dict[int, int] = defaultdict(int)
    for part in found.parts:
        if part.owner is not None and part.owner.id in owned:
            parts[part.owner.id] += part.row.count
    return {session_id: (cycles, parts[session_id]) for session_id, (cycles, _) in owned.items()}


# Sessions of a machine fewer days apart than this are attributed in one window when their kept rows are missing
# or stale: the first read after the upgrade attributes every session of every order (17,097 at three years),
# in a few windows per machine (school holidays part them), not one or two per day.
WIDE_GAP = timedelta(days=4)
KEEP_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SessionParts:
    """The work sessions of many orders (every order's, for the orders CSV) with the parts attribution gives
    each, read from their kept rows where current."""

    of_order: dict[int, list[Worked]]  # order id → its sessions
    cycles: dict[int, list[CycleRow]]  # the sessions attributed by this read (no current kept row): their cycles
    seen: Pending  # what the kept rows were checked against


def session_parts(
    *, db: Session, order_ids: Iterable[int], zone: str, bounds: CycleBounds | None = None
) -> SessionParts:
    """The work sessions of the orders ``order_ids``, each with the parts attribution gives it. A finished
    session's come from its kept row while current (``owned_cycles``): its ``parts`` column alone, read with
    the session in one statement that leaves the stale rows out (``summaries_repo.session_stale_where``); the
    cycles' JSON is what costs, and order figures need it only for a pace (``cycles_of_sessions``). The others
    are attributed now, and the finished ones kept."""
    seen = summaries_repo.pending(db)
    wanted = set(order_ids)
    current = and_(
        SessionCycles.session_id == WorkSessionRecord.id,
        SessionCycles.machine_id == WorkSessionRecord.machine_id,
        WorkSessionRecord.ended.is_not(None),
        not_(summaries_repo.session_stale_where(seen)),
    )
    columns = (WorkSessionRecord.id, WorkSessionRecord.order_id, WorkSessionRecord.operation_id, SessionCycles.parts,
               WorkSessionRecord.machine_id)  # fmt: skip
    read: list[tuple[int, int, int | None, int | None]] = []
    # Read past the ORM's site restriction, and kept to the machines the reader sees (as that restriction keeps
    # work sessions): its subquery on every session of the school cost a master of one school 12 ms.
    visible = set(db.scalars(select(Machine.id)))
    for where in id_filters(WorkSessionRecord.order_id, wanted):
        stmt = select(*columns).outerjoin(SessionCycles, current).where(where)
        read += [(s, o, op, n) for s, o, op, n, m in db.connection().execute(stmt) if o in wanted and m in visible]
    todo = session_rows(db=db, ids=[session_id for session_id, _, _, parts in read if parts is None])
    owned = _attributed(db, todo, bounds, WIDE_GAP)
    stored = [_summary_row(row, *owned[row.id]) for row in todo if row.ended is not None]
    # Kept a thousand at a time: the first read after the upgrade keeps every order's sessions (120 MB of cycles
    # at three years), and one transaction would hold SQLite's write lock past ingest's busy timeout.
    for start in range(0, len(stored), KEEP_BATCH):
        batch = summaries_repo.Computed(sessions=stored[start : start + KEEP_BATCH])
        summaries_repo.keep_computed(db, batch, seen, zone)
    of_order: dict[int, list[Worked]] = defaultdict(list)
    for session_id, order_id, operation_id, parts in read:
        made = int(parts) if parts is not None else owned.get(session_id, ([], 0))[1]
        of_order[order_id].append(Worked(session_id, order_id, operation_id, made))
    return SessionParts(dict(of_order), {session_id: cycles for session_id, (cycles, _) in owned.items()}, seen)


def cycles_of_sessions(
    *, db: Session, rows: Sequence[SessionRow], found: SessionParts, bounds: CycleBounds | None = None
) -> dict[int, list[CycleRow]]:
    """Per work session of ``rows``, its cycles by end then id: those ``found`` attributed, else its kept row's
    (read for these sessions alone, current against what ``found`` saw), else attributed now."""
    cycles = {r.id: found.cycles[r.id] for r in rows if r.id in found.cycles}
    wanted = {r.id: r.machine_id for r in rows if r.id not in cycles}
    if not wanted:
        return cycles
    machines = {m.id: m for m in db.scalars(select(Machine).where(Machine.id.in_(set(wanted.values()))))}
    for session_id, hit in summaries_repo.session_cycles(db, wanted).items():
        if not found.seen.session_stale(machines[wanted[session_id]], hit.first, hit.last):
            cycles[session_id] = _cached_cycles(hit)[0]
    # A kept row gone or made stale since ``found`` read it (another reader kept or settled meanwhile).
    rest = session_rows(db=db, ids=[session_id for session_id in wanted if session_id not in cycles])
    cycles.update((session_id, owned) for session_id, (owned, _) in _attributed(db, rest, bounds).items())
    return cycles


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
    since = orders_since(db, rows)
    complete = {r.id for r in rows if (hit := hits.get(r.id)) is not None and kept_whole(r, hit, since)}
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
            stops=stops[row.id] if days_over(row, now, zone) else None,
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
    since = orders_since(db, [r for r in rows if r.id in heads])
    served: dict[int, tuple[SessionTotals, Any]] = {}
    for row in rows:
        head = heads.get(row.id)
        if head is None or not kept_whole(row, head, since) or (totals := _totals_of(head)) is None:
            continue
        if seen.session_stale(machines[head.machine_id], head.first, head.last):
            continue
        served[row.id] = (totals, head)
    rest = [r for r in rows if r.id not in served]
    # Without stops, a session whose days are not over (today's: never kept) needs only its cycles and parts:
    # computing its machine-day's stops and its order's first good cycle was most of the practice-logs CSV.
    light = [] if stops else [r for r in rest if r.ended is None or not days_over(r, now, zone)]
    found: dict[int, SessionSums] = {}
    if light:
        owned = owned_cycles(db=db, rows=light, zone=zone, store=False)
        found.update((r.id, SessionSums(session_totals(owned[r.id][0]), owned[r.id][1], [], None)) for r in light)
    rest = [r for r in rest if r.id not in found]
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


def kept_whole(row: WorkSessionRecord, kept: Any, since: Mapping[tuple[int, int], datetime]) -> bool:
    """Whether a session's current kept row (``session_cycles``, or the same columns read without the cycles)
    holds all a log line takes of it: its stops (kept once its days were over), and for an order's session the
    first good cycle found from the order's first session on the machine, still that one (``since``:
    ``orders_since``)."""
    if kept.stops is None:
        return False
    return row.order_id is None or (kept.order_since is not None and kept.order_since == since.get(_key(row)))


def _key(row: WorkSessionRecord) -> tuple[int, int]:
    assert row.order_id is not None
    return row.order_id, row.machine_id


def orders_since(db: Session, rows: list[WorkSessionRecord]) -> dict[tuple[int, int], datetime]:
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


def days_over(row: WorkSessionRecord, now: datetime, zone: str) -> bool:
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
) -> MachineReport:
    return _reports(db, [machine], period, zone, seen)[0]


def _reports(
    db: Session, machines: Sequence[Machine], period: Counted, zone: str, seen: Pending | None
) -> list[MachineReport]:
    """Each machine's report over ``period``. What does not change from one machine to the next is read once
    for them all (each site's calendar and stop settings, every machine's calendar exceptions, a calendar's
    planned intervals), and what does is read in one statement for them all (what people said about their
    stops, scrap, the standards of the sessions), not once per machine: 20 machines made a hundred small
    reads, each dearer than its rows under a master's site restriction."""
    start, end = period.start, period.until
    shared = _Shared.read(db, machines, zone)
    jobs = [(machine, shared.settled(machine)) for machine in machines]
    pieces = _figures_of(db, jobs, (start, end), seen=seen, zone=zone, months=True)
    summed = {machine.id: total(pieces[machine.id], settled.site.threshold_s) for machine, settled in jobs}
    said = said_about_machines(db=db, found={m.id: summed[m.id].stops for m in machines})
    scrap = _scrap_of(db, [m.id for m in machines], start, end)
    paced = {session_id for m in machines for session_id in summed[m.id].paced}
    standards = _paced_standards(db, [m.id for m in machines], (start, end), paced)
    reports = []
    for machine in machines:
        settled, found = shared.settled(machine), summed[machine.id]
        site = settled.site
        stopped = classify(found.stops, said.get(machine.id, {}), alarm_is_breakdown=site.alarm_is_breakdown,
                           breakdown=site.breakdown)  # fmt: skip
        # Planned downtime (ISO 22400-2): stops people classified as planned (a lesson, maintenance).
        downtime = sum(c.stop.seconds for c in stopped if c.reason is not None and c.reason.category == "planned")
        use_planned = replace(found.planned, planned_downtime_s=min(downtime, found.planned.calendar_s))
        earned, timed = _earned(found.paced, standards)
        made, lost = found.made, scrap.get(machine.id, 0)
        result = scores(use_planned, earned_s=earned, timed=timed, made=made, scrap=lost)
        intervals = shared.planned(settled, start, end)
        reports.append(
            MachineReport(machine, period, found.use, use_planned, intervals, stopped, made, lost, found.cycles, result)
        )
    return reports


def _paced_standards(
    db: Session, machine_ids: list[int], window: tuple[datetime, datetime], wanted: set[int]
) -> dict[int, float]:
    """``_session_standards`` of the sessions ``wanted`` (those a report's window paced): read with every
    session of its machines around the window in one statement, not by id in lists of 500 (a year is ~5,600
    sessions: 22 statements of 500 parameters cost more than their rows); any other (a cycle a master
    assigned to a session far from it) by id."""
    if not wanted:
        return {}
    start, end = window
    found: dict[int, float] = {}
    seen: set[int] = set()
    for chunk in chunks(machine_ids):
        stmt = (
            select(WorkSessionRecord.id, OperationRecord.standard_cycle_s, Order.standard_cycle_s)
            .outerjoin(OperationRecord, OperationRecord.id == WorkSessionRecord.operation_id)
            .outerjoin(Order, Order.id == WorkSessionRecord.order_id)
            .where(
                WorkSessionRecord.machine_id.in_(chunk),
                WorkSessionRecord.started < end,
                (WorkSessionRecord.ended.is_(None)) | (WorkSessionRecord.ended >= start - timedelta(days=1)),
            )
        )
        for session_id, by_operation, by_order in db.execute(stmt):
            seen.add(session_id)
            standard = by_operation if by_operation is not None else by_order
            if session_id in wanted and standard is not None:
                found[session_id] = standard
    missing = wanted - seen
    if missing:
        found.update(_session_standards(db, missing))
    return found


def _scrap_of(db: Session, machine_ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    """Machine id → parts scrapped on it in [start, end): one grouped read for every machine."""
    found: dict[int, int] = {}
    for chunk in chunks(machine_ids):
        stmt = (
            select(ScrapRecord.machine_id, func.sum(ScrapRecord.quantity))
            .where(ScrapRecord.machine_id.in_(chunk), ScrapRecord.ts >= start, ScrapRecord.ts < end)
            .group_by(ScrapRecord.machine_id)
        )
        found.update({machine_id: int(n or 0) for machine_id, n in db.execute(stmt).all() if machine_id is not None})
    return found


def _earned(paced: dict[int, tuple[int, int]], standards: Mapping[int, float]) -> tuple[float, bool]:
    """Σ standard × parts over the sessions' cycles ended in planned time, and whether any had a standard
    (``standards``: ``_session_standards`` of at least these sessions)."""
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
    return _figures_of(db, [(machine, settled)], window, seen=seen, zone=zone, months=False)[machine.id]


@dataclass(frozen=True, slots=True)
class _Cuts:
    """A window cut at one zone's local midnights: its pieces, the whole days among them, their whole months."""

    cuts: list[datetime]
    pieces: list[tuple[datetime, datetime]]
    whole: dict[int, date]  # piece index → its local day, for the pieces that are a whole day
    months: dict[date, tuple[int, int]]  # month → its first and last piece, for the months of whole days

    @classmethod
    def of(cls, window: tuple[datetime, datetime], local: str) -> _Cuts:
        tz = ZoneInfo(local)
        cuts = midnights(window[0], window[1], local)
        pieces = list(pairwise(cuts))
        whole: dict[int, date] = {}
        for index, (lo, hi) in enumerate(pieces):
            day = local_day(lo, local)
            if lo == day_start(day, tz) and hi == day_start(day + timedelta(days=1), tz):
                whole[index] = day
        return cls(cuts, pieces, whole, whole_months(whole))


@dataclass
class _Read:
    """One read of many machines' figures over one window: what its steps share and fill in."""

    jobs: Sequence[tuple[Machine, _Settled]]
    cut_of: dict[str, _Cuts]  # per zone of local days
    summed: dict[int, dict[date, Figures]] = field(default_factory=dict)  # machine → month → current month sum
    covered: dict[int, set[int]] = field(default_factory=dict)  # machine → the pieces its current months stand for
    found: dict[int, dict[int, Figures]] = field(default_factory=dict)  # machine → piece → its figures
    computed: dict[int, dict[date, Figures]] = field(default_factory=dict)  # machine → whole day computed now

    @classmethod
    def of(cls, jobs: Sequence[tuple[Machine, _Settled]], window: tuple[datetime, datetime]) -> _Read:
        zones = {settled.calendar.zone for _, settled in jobs}
        ids = [machine.id for machine, _ in jobs]
        return cls(
            jobs,
            {local: _Cuts.of(window, local) for local in zones},
            {i: {} for i in ids},
            {i: set() for i in ids},
            {i: {} for i in ids},
            {i: {} for i in ids},
        )

    def cut(self, settled: _Settled) -> _Cuts:
        return self.cut_of[settled.calendar.zone]


def _figures_of(
    db: Session,
    jobs: Sequence[tuple[Machine, _Settled]],
    window: tuple[datetime, datetime],
    *,
    seen: Pending | None,
    zone: str,
    months: bool,
) -> dict[int, list[Figures]]:
    """``_figures`` of each machine of ``jobs``, read together: the stored days of every machine in a read or
    two, the raw gaps they share (today) in one pass for them all. ``months``: a whole local month comes from
    its month sum (``month_sums_repo``) when stored and current, else from its days, then stored; the list
    then holds one ``Figures`` for it in place of its days (callers add the list up: ``total``)."""
    read = _Read.of(jobs, window)
    if seen is not None and months:
        _month_sums(db, read, seen)
    if seen is not None:
        _stored_days(db, read, seen)
    _raw_gaps(db, read)
    out: dict[int, list[Figures]] = {}
    for machine, settled in jobs:
        cut, mine, summed = read.cut(settled), read.found[machine.id], read.summed[machine.id]
        if seen is not None:
            fresh = {  # months added up now from their days, to store
                month: merged([mine[i] for i in range(a, b + 1)], settled.site.threshold_s)
                for month, (a, b) in cut.months.items()
                if months and month not in summed
            }
            summed.update(fresh)
            summaries_repo.keep(db, machine.id, read.computed[machine.id], seen, zone, months=fresh)
        starts = {cut.months[month][0]: month for month in summed}
        pieces: list[Figures] = []
        index = 0
        while index < len(cut.pieces):
            month = starts.get(index)
            pieces.append(mine[index] if month is None else summed[month])
            index = index + 1 if month is None else cut.months[month][1] + 1
        out[machine.id] = pieces
    return out


def _month_sums(db: Session, read: _Read, seen: Pending) -> None:
    """Into ``read``: each machine's whole months whose sum is stored and current, in one statement."""
    wanted = [month for cut in read.cut_of.values() for month in cut.months]
    if not wanted:
        return
    rows = month_sums_repo.stored(db, [m.id for m, _ in read.jobs], min(wanted), max(wanted))
    for machine, settled in read.jobs:
        cut = read.cut(settled)
        for month, (a, b) in cut.months.items():
            row = rows.get((machine.id, month))
            if row is not None and not seen.stale_days(machine, cut.whole[a], cut.whole[b], settled.calendar.zone):
                read.summed[machine.id][month] = summaries_repo.figures_of(cut.pieces[a][0], cut.pieces[b][1], row)
                read.covered[machine.id].update(range(a, b + 1))


def _stored_days(db: Session, read: _Read, seen: Pending) -> None:
    """Into ``read``: each machine's whole days (outside its current months) whose summary is stored and
    current, read in one statement per stretch of consecutive days wanted (a year's edges: two)."""
    wanted: dict[int, dict[date, int]] = {}  # machine → day → piece index
    for machine, settled in read.jobs:
        skip = read.covered[machine.id]
        wanted[machine.id] = {day: i for i, day in read.cut(settled).whole.items() if i not in skip}
    stretches: list[tuple[date, date]] = []
    for day in sorted({day for mine in wanted.values() for day in mine}):
        if stretches and (day - stretches[-1][1]).days == 1:
            stretches[-1] = (stretches[-1][0], day)
        else:
            stretches.append((day, day))
    by_id = {machine.id: (machine, settled) for machine, settled in read.jobs}
    for first, last in stretches:
        ids = [m for m, mine in wanted.items() if any(first <= day <= last for day in mine)]
        for machine_id, rows in summaries_repo.stored_of(db, ids, first, last).items():
            machine, settled = by_id[machine_id]
            for day, (final, columns) in rows.items():
                index = wanted[machine_id].get(day)
                if index is not None and (final or not seen.stale(machine, day, settled.calendar.zone)):
                    lo, hi = read.cut(settled).pieces[index]
                    read.found[machine_id][index] = summaries_repo.figures_of(lo, hi, columns)


def _raw_gaps(db: Session, read: _Read) -> None:
    """Into ``read``: each machine's pieces neither summed nor stored, from raw rows, a pass per gap; the
    machines that share a gap (today, for every machine) in one pass together. Whole days computed go to
    ``read.computed``, to be stored."""
    gaps: dict[tuple[str, int, int], list[tuple[Machine, _Settled]]] = defaultdict(list)
    for machine, settled in read.jobs:
        cut, mine, skip = read.cut(settled), read.found[machine.id], read.covered[machine.id]
        index = 0
        while index < len(cut.pieces):
            run = index
            while run < len(cut.pieces) and run not in mine and run not in skip:
                run += 1
            if run > index:
                gaps[(settled.calendar.zone, index, run)].append((machine, settled))
            index = max(run, index + 1)
    for (local, index, run), sharing in gaps.items():
        cut = read.cut_of[local]
        for machine_id, figures in _raw_figures_of(db, sharing, cut.cuts[index : run + 1]).items():
            for offset, piece in enumerate(figures):
                read.found[machine_id][index + offset] = piece
                if index + offset in cut.whole:
                    read.computed[machine_id][cut.whole[index + offset]] = piece


def summarise(*, db: Session, machine: Machine, first: date, last: date, zone: str) -> None:
    """Store the machine's summaries of the local days [first, last] that are missing or stale (the hourly
    job keeps the recent ones ready; retention makes sure of them before it purges raw rows)."""
    settled = _settled(db, machine, zone)
    tz = ZoneInfo(settled.calendar.zone)
    window = (day_start(first, tz), day_start(last + timedelta(days=1), tz))
    _figures(db, machine, window, settled, seen=summaries_repo.pending(db), zone=zone)


def summarise_months(*, db: Session, machine: Machine, first: date, last: date, zone: str) -> None:
    """Store the machine's month sums of the whole local months within [first, last] that are missing or stale
    (the hourly job, once its days are summarised: a month is then added up from its day rows)."""
    local = site_zone(db=db, machine=machine, zone=zone)
    tz = ZoneInfo(local)
    since = first_of(first) if first.day == 1 else last_of(first) + timedelta(days=1)
    until = first_of(last) if last != last_of(last) else last + timedelta(days=1)
    if since < until:
        settled = _settled(db, machine, zone)
        window = (day_start(since, tz), day_start(until, tz))
        _figures_of(db, [(machine, settled)], window, seen=summaries_repo.pending(db), zone=zone, months=True)


def site_zone(*, db: Session, machine: Machine, zone: str) -> str:
    """The zone of the machine's local days: its site calendar's (``zone``: the gateway's, without one)."""
    return calendar_of(db=db, site=machine.site, zone=zone).zone


def _raw_figures_of(
    db: Session, jobs: Sequence[tuple[Machine, _Settled]], cuts: list[datetime]
) -> dict[int, list[Figures]]:
    """The figures of each stretch between ``cuts`` of each machine, from raw rows read in one pass for them
    all: their state changes, fault alarms and attributed cycles and parts in a few statements, not a few
    per machine (today's part of a week's report of 20 machines was ~200 statements)."""
    lo, hi = cuts[0], cuts[-1]
    ids = [machine.id for machine, _ in jobs]
    changes = _changes_of(db, ids, lo, hi)
    faults = _faults_of(db, ids, lo, hi)
    cycles, parts = window_cycles.ended_in(db, [machine for machine, _ in jobs], lo, hi)
    out: dict[int, list[Figures]] = {}
    for machine, settled in jobs:
        points = state_points(changes.get(machine.id, []), faults.get(machine.id, []))
        intervals = planned(settled.calendar, lo, hi, settled.exceptions)
        out[machine.id] = split(
            timeline(points, lo, hi), intervals, cycles[machine.id], parts[machine.id], cuts,
            threshold_s=settled.site.threshold_s,
        )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class _Settled:
    """What a machine's stops read that does not change from one day to the next: read once for many days."""

    calendar: Calendar
    exceptions: list[MachineException]
    site: SiteStops


def _settled(db: Session, machine: Machine, zone: str) -> _Settled:
    calendar = calendar_of(db=db, site=machine.site, zone=zone)
    return _Settled(
        calendar, exceptions_of(db=db, machine_id=machine.id), site_stops(db=db, site=machine.site, zone=zone)
    )


@dataclass
class _Shared:
    """What the reports of many machines over one window share: each site's calendar and stop settings, every
    machine's exceptions (read in one statement), and the planned intervals of the window per calendar."""

    zone: str
    sites: dict[str, tuple[Calendar, SiteStops]]
    exceptions: dict[int, list[MachineException]]
    _planned: dict[tuple[int, int | None, datetime, datetime], list[Interval]] = field(default_factory=dict)

    @classmethod
    def read(cls, db: Session, machines: Sequence[Machine], zone: str) -> _Shared:
        sites = {
            site: (calendar_of(db=db, site=site, zone=zone), site_stops(db=db, site=site, zone=zone))
            for site in sorted({m.site for m in machines})
        }
        return cls(zone, sites, exceptions_of_machines(db=db, machine_ids=[m.id for m in machines]))

    def settled(self, machine: Machine) -> _Settled:
        calendar, stops = self.sites[machine.site]
        return _Settled(calendar, self.exceptions.get(machine.id, []), stops)

    def planned(self, settled: _Settled, start: datetime, end: datetime) -> list[Interval]:
        """The planned intervals of [start, end): once per site for the machines without exceptions of their
        own (a year is ~300 intervals from 365 days of calendar, worked out once, not 20 times)."""
        if start >= end:
            return []
        key = (id(settled.calendar), id(settled.exceptions) if settled.exceptions else None, start, end)
        if key not in self._planned:
            self._planned[key] = planned(settled.calendar, start, end, settled.exceptions)
        return self._planned[key]


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
    with without_collection():  # a year is 7,300 day rows of 20 machines, their stops with them (``heap``)
        return _reports(db, machines, counted(start, end, now), zone, seen)


def _changes_of(
    db: Session, machine_ids: list[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, str, str | None]]]:
    """``_changes`` of each of these machines, in two statements for them all: the last change before
    ``start`` of each (a correlated subquery, served by the (machine, ts) index), then those inside."""
    found: dict[int, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    columns = (StateChange.machine_id, StateChange.ts, StateChange.availability, StateChange.execution)
    for chunk in chunks(machine_ids):
        last = (
            select(StateChange.id)
            .where(StateChange.machine_id == Machine.id, StateChange.ts < start)
            .order_by(StateChange.ts.desc(), StateChange.id.desc())
            .limit(1)
            .correlate(Machine)
            .scalar_subquery()
        )
        before = select(*columns).where(StateChange.id.in_(select(last).where(Machine.id.in_(chunk))))
        inside = (
            select(*columns)
            .where(StateChange.machine_id.in_(chunk), StateChange.ts >= start, StateChange.ts < end)
            .order_by(StateChange.machine_id, StateChange.ts, StateChange.id)
        )
        for machine_id, ts, availability, execution in [*db.execute(before), *db.execute(inside)]:
            found[machine_id].append((ts, availability, execution))
    return found


def _faults_of(
    db: Session, machine_ids: list[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """``_faults`` of each of these machines, in one statement for them all."""
    found: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for chunk in chunks(machine_ids):
        stmt = select(AlarmRecord.machine_id, AlarmRecord.ts, AlarmRecord.cleared).where(
            AlarmRecord.machine_id.in_(chunk),
            AlarmRecord.severity == "fault",
            AlarmRecord.ts < end,
            (AlarmRecord.cleared.is_(None)) | (AlarmRecord.cleared > start),
        )
        for machine_id, ts, cleared in db.execute(stmt):
            found[machine_id].append((ts, cleared))
    return found


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
