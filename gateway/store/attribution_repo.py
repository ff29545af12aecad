"""Attribution derived at read time: the store's cycles and part counts joined to the work sessions.

Nothing about attribution is written when a cycle arrives. Each read loads the
cycles and part counts of a window, the sessions on their machines and the
masters' assignments, and asks the pure domain (``gateway.domain.attribution``)
which session each belongs to, by the event's *source* time: a cycle to the session
open for most of it, its parts with it. An event that
arrives hours late from an outbox, or before an earlier one, lands on the right
session at the next read; correcting a session's times or order re-attributes
everything under it, with no re-processing. A master's assignment of a cycle
overrides the derived owner, and the parts counted during that cycle follow it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from gateway.domain.attribution import MachineCycles, MachineSessions, part_owner
from gateway.domain.model import CycleFact, WorkSession
from gateway.store.machines_repo import machine_key
from gateway.store.models import Cycle, CycleAssignment, Machine, PartCount, WorkSessionRecord
from gateway.store.rows import CHUNK, chunks
from gateway.store.sites_repo import ALL_SITES
from gateway.store.work_repo import to_domain, work_sessions_on

TICK = timedelta(microseconds=1)
Span = tuple[datetime, datetime]
OPEN_END = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CycleRow:
    """A row of ``cycles`` as read for attribution: plain columns, not an ORM object (a year is many thousands)."""

    id: int
    machine_id: int
    agent_id: int
    seq: int
    program: str | None
    kind: str
    started: datetime
    ended: datetime
    duration_s: float
    held_s: float
    parts: int
    outcome: str


@dataclass(frozen=True, slots=True)
class PartRow:
    """A row of ``part_counts`` as read for attribution."""

    id: int
    machine_id: int
    agent_id: int
    seq: int
    ts: datetime
    count: int
    counter: int | None
    program: str | None


_CYCLE_COLUMNS = tuple(Cycle.__table__.c[name] for name in CycleRow.__slots__)
_PART_COLUMNS = tuple(PartCount.__table__.c[name] for name in PartRow.__slots__)


@dataclass(frozen=True, slots=True)
class AttributedCycle:
    row: CycleRow
    machine: str
    owner: WorkSession | None
    assigned: bool

    def fact(self, standard_s: float | None = None) -> CycleFact:
        c = self.row
        return CycleFact(
            machine=self.machine,
            started=c.started,
            ended=c.ended,
            duration_s=c.duration_s,
            parts=c.parts,
            outcome=c.outcome,
            held_s=c.held_s,
            program=c.program,
            standard_s=standard_s,
        )


@dataclass(frozen=True, slots=True)
class AttributedPart:
    row: PartRow
    machine: str
    owner: WorkSession | None


@dataclass(frozen=True, slots=True)
class Attribution:
    cycles: list[AttributedCycle]
    parts: list[AttributedPart]


# Sessions of one machine closer than this are read as one window (a morning and an afternoon): fewer queries.
JOIN_GAP = timedelta(hours=2)


def spans_of(rows: Iterable[WorkSessionRecord], gap: timedelta = JOIN_GAP) -> dict[int, list[Span]]:
    """Per machine, the windows the sessions of ``rows`` cover (sessions closer than ``gap`` joined).

    Not one window from the first start to the last end: a student's sessions of three years on a machine
    would read every cycle anybody ran there meanwhile. What a session owns lies in its own window (a cycle
    overlaps it; a part is counted in it, or during a cycle that overlaps it, which ``_load`` widens to).
    An open session reaches into the future: an edge clock a little ahead of the gateway's must not hide
    its latest parts.
    """
    per_machine: dict[int, list[Span]] = defaultdict(list)
    for row in rows:
        per_machine[row.machine_id].append((row.started, row.ended or OPEN_END))
    spans: dict[int, list[Span]] = {}
    for machine_id, windows in per_machine.items():
        joined: list[Span] = []
        for lo, hi in sorted(windows):
            if joined and lo <= joined[-1][1] + gap:
                joined[-1] = (joined[-1][0], max(joined[-1][1], hi))
            else:
                joined.append((lo, hi))
        spans[machine_id] = joined
    return spans


# A window ending longer than this before a machine's latest cycle is read with both bounds (below).
RECENT_TAIL = timedelta(days=7)
SLACK = timedelta(seconds=1)  # SQLite's julianday arithmetic is exact to well under a second


class CycleBounds:
    """How far each machine's cycles reach: what bounds a window's read of cycles on both sides.

    The cycles overlapping [lo, hi] are those with ``ended >= lo and started <= hi``; the index on (machine,
    ended) bounds the first only, so a window long past would walk every later cycle of its machine (a
    report of an old order at three years of history reads three years). A cycle that started by ``hi``
    also ended by ``hi`` plus the machine's longest cycle: with that read once, the walk stops there.
    The longest cycle is read from the store (late cycles count), once per machine for the lifetime of
    this object: make one per read (``attribute`` does), never keep one across writes.
    """

    def __init__(self, db: Session) -> None:
        self._db = db
        self._latest: dict[int, datetime | None] = {}
        self._longest: dict[int, timedelta] = {}

    def upper(self, machine_id: int, hi: datetime) -> datetime | None:
        """The latest ``ended`` a cycle overlapping a window ending at ``hi`` can have; None: no bound needed
        (the window is recent, what follows it is short to walk)."""
        if machine_id not in self._latest:
            latest = select(func.max(Cycle.ended)).where(Cycle.machine_id == machine_id)  # one index probe
            self._latest[machine_id] = self._db.scalar(latest)
        latest_end = self._latest[machine_id]
        if latest_end is None or _aware(hi) + RECENT_TAIL >= _aware(latest_end):
            return None
        if machine_id not in self._longest:
            self._longest[machine_id] = self._read_longest(machine_id)
        return hi + self._longest[machine_id] + SLACK

    def _read_longest(self, machine_id: int) -> timedelta:
        seconds: ColumnElement[Any]
        if self._db.get_bind().dialect.name == "sqlite":
            seconds = (func.julianday(Cycle.ended) - func.julianday(Cycle.started)) * 86400.0
        else:
            seconds = func.extract("epoch", Cycle.ended - Cycle.started)
        found = self._db.scalar(select(func.max(seconds)).where(Cycle.machine_id == machine_id))
        return timedelta(seconds=max(float(found or 0.0), 0.0))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def attribute(
    *,
    db: Session,
    spans: Mapping[int, Span | list[Span]],
    assigned_to: Collection[int] = (),
    bounds: CycleBounds | None = None,
) -> Attribution:
    """Cycles and part counts in ``spans`` (machine id → [lo, hi], or a list of them), plus cycles assigned
    to ``assigned_to``. ``bounds``: share one across the reads of one request (see ``CycleBounds``)."""
    bounds = bounds or CycleBounds(db)
    cycles: dict[int, CycleRow] = {}
    parts: dict[int, PartRow] = {}
    for machine_id, windows in spans.items():
        for window in windows if isinstance(windows, list) else [windows]:
            _load(db, machine_id, window, cycles, parts, bounds=bounds)
    for chunk in chunks(list(assigned_to)):
        stmt = select(*_CYCLE_COLUMNS).join(CycleAssignment, CycleAssignment.cycle_id == Cycle.id)
        for row in db.execute(stmt.where(CycleAssignment.session_id.in_(chunk))):
            cycle = CycleRow(*row)
            cycles[cycle.id] = cycle
            _load(db, cycle.machine_id, (cycle.started, cycle.ended), {}, parts, bounds=bounds)
    return _resolve(db, list(cycles.values()), list(parts.values()))


def _load(
    db: Session,
    machine_id: int,
    span: Span,
    cycles: dict[int, CycleRow],
    parts: dict[int, PartRow],
    *,
    bounds: CycleBounds,
) -> None:
    """The cycles overlapping ``span`` and every part they made, also those counted outside the span.

    A cycle that straddles the span's edge (a student who checked out while it ran)
    brings the parts counted up to its end: the span grows to cover it. The cycles
    touching the grown span are loaded as well, so that a part counted at the very
    instant one cycle ends and the next starts finds the cycle that made it.
    """
    lo, hi = span
    found = [CycleRow(*row) for row in db.execute(_cycles_in(machine_id, lo, hi, bounds))]
    if found:
        wider = min(lo, *(c.started for c in found)), max(hi, *(c.ended for c in found))
        if wider != (lo, hi):
            lo, hi = wider
            found += [CycleRow(*row) for row in db.execute(_cycles_in(machine_id, lo, hi, bounds))]
    cycles.update((c.id, c) for c in found)
    counted = select(*_PART_COLUMNS).where(PartCount.machine_id == machine_id, PartCount.ts >= lo, PartCount.ts <= hi)
    parts.update((p.id, p) for p in (PartRow(*row) for row in db.execute(counted)))


def _cycles_in(machine_id: int, lo: datetime, hi: datetime, bounds: CycleBounds) -> Select[Any]:
    stmt = select(*_CYCLE_COLUMNS).where(Cycle.machine_id == machine_id, Cycle.ended >= lo, Cycle.started <= hi)
    upper = bounds.upper(machine_id, hi)
    return stmt if upper is None else stmt.where(Cycle.ended <= upper)


def _resolve(db: Session, cycles: list[CycleRow], parts: list[PartRow]) -> Attribution:
    machine_ids = {c.machine_id for c in cycles} | {p.machine_id for p in parts}
    machines = {m.id: m for m in db.scalars(select(Machine).where(Machine.id.in_(machine_ids)))}
    known = _sessions_around(db, machines, cycles, parts)
    assigned = _assignments(db, [c.id for c in cycles], known, machines)
    keys = {machine_id: machine_key(machine) for machine_id, machine in machines.items()}
    # Each machine's sessions indexed once (a window of a year holds thousands), not walked for every event.
    indexed = {machine_id: MachineSessions(known[machine_id], key) for machine_id, key in keys.items()}
    owned: list[AttributedCycle] = []
    per_machine: dict[int, list[tuple[datetime, datetime, WorkSession | None]]] = defaultdict(list)
    for cycle in sorted(cycles, key=lambda c: (c.ended, c.id)):
        owner: WorkSession | None
        if cycle.id in assigned:
            owner, by_hand = assigned[cycle.id], True
        else:
            owner = indexed[cycle.machine_id].cycle_owner(started=cycle.started, ended=cycle.ended)
            by_hand = False
        owned.append(AttributedCycle(cycle, keys[cycle.machine_id], owner, by_hand))
        per_machine[cycle.machine_id].append((cycle.started, cycle.ended, owner))
    made_by = {machine_id: MachineCycles(per_machine[machine_id]) for machine_id in keys}
    counted = [
        AttributedPart(
            part,
            keys[part.machine_id],
            part_owner(indexed[part.machine_id], made_by[part.machine_id], part.ts),
        )
        for part in sorted(parts, key=lambda p: (p.ts, p.id))
    ]
    return Attribution(owned, counted)


def _sessions_around(
    db: Session, machines: Mapping[int, Machine], cycles: list[CycleRow], parts: list[PartRow]
) -> dict[int, list[WorkSession]]:
    times: dict[int, list[datetime]] = defaultdict(list)
    for cycle in cycles:
        times[cycle.machine_id] += [cycle.started, cycle.ended]
    for part in parts:
        times[part.machine_id].append(part.ts)
    known: dict[int, list[WorkSession]] = defaultdict(list)
    for machine_id, seen in times.items():
        machine = machines[machine_id]
        rows = work_sessions_on(db=db, machine=machine, start=min(seen), end=max(seen) + TICK)
        known[machine_id] = [to_domain(r, machine) for r in rows]
    return known


def _assignments(
    db: Session, cycle_ids: list[int], known: Mapping[int, list[WorkSession]], machines: Mapping[int, Machine]
) -> dict[int, WorkSession]:
    by_id = {s.id: s for sessions in known.values() for s in sessions}
    found: dict[int, WorkSession] = {}
    # Every site's rows: the cycles were read under the session's site restriction already, and a cycle is
    # assigned only to a session of its own machine. With the restriction's subquery on the sessions, SQLite
    # walked every session of the school to find the assignments of 500 cycles (30 ms a chunk at 3 years).
    for chunk in chunks(cycle_ids):
        stmt = (
            select(CycleAssignment.cycle_id, WorkSessionRecord)
            .join(WorkSessionRecord, WorkSessionRecord.id == CycleAssignment.session_id)
            .execution_options(**ALL_SITES)
        )
        for cycle_id, row in db.execute(stmt.where(CycleAssignment.cycle_id.in_(chunk))).all():
            found[cycle_id] = by_id.get(row.id) or to_domain(row, machines[row.machine_id])
    return found


def id_filters(column: Any, values: Collection[int]) -> list[ColumnElement[bool]]:
    """Where-clauses that together select at least the rows whose ``column`` is among ``values``: ``IN`` lists
    for a few, else one range from the least to the greatest (the orders CSV's 16,000 sessions: one read, not
    33 lists of bound parameters). The caller keeps the rows it wants."""
    wanted = sorted(set(values))
    if len(wanted) <= CHUNK:
        return [column.in_(wanted)] if wanted else []
    return [column.between(wanted[0], wanted[-1])]


def unattributed(*, db: Session, since: datetime, until: datetime) -> list[AttributedCycle]:
    """Cycles ended in [since, until) that no session covers and no master assigned."""
    machine_ids = db.scalars(select(Machine.id)).all()
    found = attribute(db=db, spans=dict.fromkeys(machine_ids, (since, until)))
    return [c for c in found.cycles if c.owner is None and since <= c.row.ended < until]
