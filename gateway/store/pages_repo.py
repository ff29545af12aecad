"""What the pages show, read from the store: the order board, one order, a student's cycles, a kiosk, who is where.

Each function returns plain results a template reads; the pages do no SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.config import SCHOOL_ZONE
from gateway.domain.operations import Mismatch, Step, StepTally, program_mismatch
from gateway.domain.progress import OrderProgress
from gateway.domain.session_totals import SessionTotals
from gateway.errors import BusyError
from gateway.store.activity_repo import OrderActivity, order_activity
from gateway.store.attribution_repo import AttributedCycle, CycleRow
from gateway.store.customers_repo import customer_names
from gateway.store.db import Database
from gateway.store.first_part_repo import approvals_of_order, pending_sessions
from gateway.store.heap import without_collection
from gateway.store.machines_repo import machine_key
from gateway.store.models import (
    Customer,
    FirstPartApproval,
    Machine,
    MachineGroup,
    OperationRecord,
    Order,
    ScrapRecord,
    Student,
    WorkSessionRecord,
)
from gateway.store.operations_repo import operations_by_order, operations_of
from gateway.store.operations_repo import steps as operation_steps
from gateway.store.orders_repo import get_order, order_standards, orders_by_due
from gateway.store.progress_repo import progress_by_operation, progress_of_orders
from gateway.store.reports_repo import StudentLog, owned_cycles, session_stops, setup_time
from gateway.store.students_repo import display_name
from gateway.store.work_repo import open_work_session, to_domain

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BoardLine:
    order: Order
    customer: str
    progress: OrderProgress
    activity: OrderActivity = field(default_factory=OrderActivity)  # operations being worked, a first part waiting


@dataclass(frozen=True, slots=True)
class OperationLine:
    """One operation on the order page: its own counts, its first-part approvals, programs not its own."""

    row: OperationRecord
    tally: StepTally | None
    group: str | None  # its machine group's name; None: any machine
    approvals: list[FirstPartApproval]
    mismatches: list[tuple[AttributedCycle, Mismatch]]
    pending_on: list[str]  # machines whose current series of it waits for a first-part approval


@dataclass(frozen=True, slots=True)
class OrderDetail:
    line: BoardLine
    cycles: list[AttributedCycle]
    scrap: list[ScrapRecord]
    students: list[tuple[int, str, int, int]]  # student id, display name, work sessions, cycles
    names: dict[int, str]  # student id → display name
    setup_s: float = 0.0  # setup stops before the order's first good cycle on each machine
    operations: list[OperationLine] = field(default_factory=list)
    machines: dict[int, str] = field(default_factory=dict)  # machine id → name, for the approvals


@dataclass(frozen=True, slots=True)
class Occupant:
    student: str  # first name and initial
    student_id: int | None
    order_id: int | None
    order: str | None
    ordered: int | None
    good: int | None
    standard_s: float | None
    operation: Step | None = None  # the session's operation: its number and programs, for a program mismatch


@dataclass(frozen=True, slots=True)
class KioskView:
    current: WorkSessionRecord | None  # the work session open at the machine
    student: str | None  # its student's display name
    current_order: Order | None
    orders: list[Order]  # the orders a student may check in for, by due date
    # (order, operation) a student may check in for at this machine; operation None: the order has one or none
    choices: list[tuple[Order, OperationRecord | None]] = field(default_factory=list)
    current_operation: OperationRecord | None = None
    first_part_pending: bool = False  # the current session's parts wait for a master's approval
    approval: FirstPartApproval | None = None  # the latest verdict in the current series


def _operation_lines(
    db: Session, order_id: int, rows: list[WorkSessionRecord], cycles: list[AttributedCycle], tallies: list[StepTally]
) -> tuple[list[OperationLine], dict[int, str]]:
    operations = operations_of(db=db, order_id=order_id)
    steps = {s.id: s for s in operation_steps(db=db, rows=operations)}
    by_session = {r.id: r for r in rows}
    approvals = approvals_of_order(db=db, order_id=order_id)
    pending = pending_sessions(db=db, rows=rows)
    machines = {m.id: m.name for m in db.scalars(select(Machine).where(Machine.id.in_({r.machine_id for r in rows})))}
    groups = {g.id: g.name for g in db.scalars(select(MachineGroup))}
    lines = []
    for operation in operations:
        mismatches = []
        for cycle in cycles:
            row = by_session.get(cycle.owner.id) if cycle.owner is not None else None
            if row is not None and row.operation_id == operation.id:
                found = program_mismatch(cycle.row.program, steps[operation.id])
                if found is not None:
                    mismatches.append((cycle, found))
        latest: dict[int, WorkSessionRecord] = {}
        for row in sorted(rows, key=lambda r: r.started):
            latest[row.machine_id] = row
        waiting = sorted(
            machines[m] for m, r in latest.items() if r.operation_id == operation.id and pending.get(r.id, False)
        )
        lines.append(
            OperationLine(
                row=operation,
                tally=next((t for t in tallies if t.operation_id == operation.id), None),
                group=None if operation.group_id is None else groups.get(operation.group_id),
                approvals=[a for a in approvals if a.operation_id == operation.id],
                mismatches=mismatches,
                pending_on=waiting,
            )
        )
    return lines, machines


def board(*, db: Session, now: datetime, include_closed: bool = False, zone: str = SCHOOL_ZONE) -> list[BoardLine]:
    """Orders by due date (undated last), each with its progress."""
    customers = customer_names(db=db)
    orders = orders_by_due(db=db, now=now, include_closed=include_closed)
    figures = progress_of_orders(db=db, orders=orders, now=now, zone=zone)  # one batch, as the orders CSV
    lines = [(o, figures[o.id]) for o in orders]
    activity = order_activity(db=db, order_ids=[o.id for o in orders])
    return [BoardLine(o, customers[o.customer_id], p, activity.get(o.id, OrderActivity())) for o, p in lines]


def order_detail(*, db: Session, order_id: int, now: datetime, zone: str = SCHOOL_ZONE) -> OrderDetail:
    order = get_order(db=db, order_id=order_id)
    customer = db.get_one(Customer, order.customer_id).name
    found_progress, tallies = progress_by_operation(db=db, order_id=order_id, now=now, zone=zone)
    line = BoardLine(order, customer, found_progress)
    rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.order_id == order_id)))
    cycles = _order_cycles(db, rows, zone)
    scrap = list(db.scalars(select(ScrapRecord).where(ScrapRecord.order_id == order_id).order_by(ScrapRecord.ts)))
    students, names = _students(db, rows, cycles)
    setup = setup_time(db=db, rows=rows, stopped=session_stops(db=db, rows=rows, now=now, zone=zone))
    operations, machines = _operation_lines(db, order_id, rows, cycles, tallies)
    return OrderDetail(line, cycles, scrap, students, names, sum(setup.values()), operations, machines)


def _order_cycles(db: Session, rows: list[WorkSessionRecord], zone: str) -> list[AttributedCycle]:
    """The cycles of the order's sessions by end then id, as attribution gives them; a finished session's from
    its kept row while current (``owned_cycles``), the rest attributed now."""
    # ``assigned`` (a master's assignment) is not kept with a session: the order page does not show it.
    return [cycle for cycle, _ in _in_time_order(db, rows, owned_cycles(db=db, rows=rows, zone=zone))]


def _in_time_order(
    db: Session, rows: list[WorkSessionRecord], owned: Mapping[int, tuple[list[CycleRow], int]]
) -> list[tuple[AttributedCycle, WorkSessionRecord]]:
    """The cycles ``owned`` by the sessions ``rows``, by end then id (as attribution gives them), each with its
    session. Each session's domain owner and machine key made once: a student's years are ~20,000 cycles."""
    machines = {m.id: m for m in db.scalars(select(Machine).where(Machine.id.in_({r.machine_id for r in rows})))}
    keys = {m.id: machine_key(m) for m in machines.values()}
    owners = {r.id: to_domain(r, machines[r.machine_id]) for r in rows}
    mine = sorted(((c, r) for r in rows for c in owned[r.id][0]), key=lambda pair: (pair[0].ended, pair[0].id))
    return [(AttributedCycle(c, keys[r.machine_id], owners[r.id], False), r) for c, r in mine]


def _order_standard(db: Session, rows: list[WorkSessionRecord]) -> dict[int, float | None]:
    """Session id → its order's standard cycle time (None for practice, or an order without one)."""
    standards = order_standards(db=db, order_ids={r.order_id for r in rows if r.order_id is not None})
    return {r.id: None if r.order_id is None else standards.get(r.order_id) for r in rows}


def _students(
    db: Session, rows: list[WorkSessionRecord], cycles: list[AttributedCycle]
) -> tuple[list[tuple[int, str, int, int]], dict[int, str]]:
    per: dict[int, list[int]] = {}
    for row in rows:
        if row.student_id is not None:
            per.setdefault(row.student_id, [0, 0])[0] += 1
    for cycle in cycles:
        assert cycle.owner is not None
        if cycle.owner.student_id is not None and cycle.row.outcome == "completed":
            per.setdefault(cycle.owner.student_id, [0, 0])[1] += 1
    names = {s.id: display_name(s) for s in db.scalars(select(Student).where(Student.id.in_(per)))}
    return sorted(((sid, names[sid], n[0], n[1]) for sid, n in per.items()), key=lambda s: (s[1], s[0])), names


def student_cycles(
    *, db: Session, student_id: int, found: StudentLog | None = None
) -> list[tuple[AttributedCycle, float | None]]:
    """The student's cycles in time order, each with its order's standard time (None for practice).
    ``found``: her whole log, already read: its sessions' cycles are these (not read a second time when the
    log was walked from them; when it was drawn from totals, only the sessions with a standard are read)."""
    with without_collection():  # an entry per cycle of years of sessions (``heap``)
        return _student_cycles(db, student_id, found)


def _student_cycles(
    db: Session, student_id: int, found: StudentLog | None
) -> list[tuple[AttributedCycle, float | None]]:
    rows = found.sessions if found is not None else None
    if rows is None:
        rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.student_id == student_id)))
    standard = _order_standard(db, rows)
    if found is not None and found.cycles:
        owned = {r.id: (found.cycles[r.id], 0) for r in rows}
    else:
        if found is not None:  # the chart's ratios are of cycles with a standard: those are enough
            rows = [r for r in rows if standard[r.id]]
        # A finished session's from its summary; not stored when the log was just read: it kept the rows whole,
        # which this transaction may not see yet (they would be replaced by less).
        owned = owned_cycles(db=db, rows=rows, zone=SCHOOL_ZONE, store=found is None)
    return [(cycle, standard[r.id]) for cycle, r in _in_time_order(db, rows, owned)]


# More ratios than this make no readable chart of cycles (20,000 at three years): one point per session then.
CHART_POINTS = 200


@dataclass(frozen=True, slots=True)
class Ratios:
    """A practice log's cycle times over their standards, in time order: per cycle, or per session (its mean)."""

    values: list[float]
    per_session: bool


def cycle_ratios(cycles: list[tuple[AttributedCycle, float | None]]) -> Ratios:
    """The ratios of these completed cycles with a standard: per cycle up to ``CHART_POINTS``, else each
    session's mean, the sessions in the order of their first such cycle."""
    kept = [(c, c.row.duration_s / std) for c, std in cycles if std and c.row.outcome == "completed"]
    if len(kept) <= CHART_POINTS:
        return Ratios([ratio for _, ratio in kept], per_session=False)
    by_session: dict[int, list[float]] = {}
    for c, ratio in kept:
        by_session.setdefault(c.owner.id if c.owner is not None else 0, []).append(ratio)
    return Ratios([sum(values) / len(values) for values in by_session.values()], per_session=True)


def log_ratios(*, db: Session, found: StudentLog) -> Ratios:
    """``cycle_ratios`` of the whole log: when it has more than ``CHART_POINTS``, each session's mean is drawn
    from its totals, no cycle read."""
    rows = found.sessions
    if found.cycles or not found.totals:
        return cycle_ratios(student_cycles(db=db, student_id=found.student.id, found=found))
    standard = _order_standard(db, rows)
    timed: list[tuple[tuple[datetime, int], SessionTotals, float]] = []
    for row in rows:
        totals, std = found.totals[row.id], standard[row.id]
        if std and (key := totals.first_key) is not None:
            timed.append((key, totals, std))
    if sum(t.completed for _, t, _ in timed) <= CHART_POINTS:
        return cycle_ratios(student_cycles(db=db, student_id=found.student.id, found=found))
    timed.sort(key=lambda item: item[0])
    return Ratios([t.completed_s / std / t.completed for _, t, std in timed], per_session=True)


def kiosk_view(*, db: Session, machine: Machine, now: datetime) -> KioskView:
    current = open_work_session(db=db, machine=machine)
    student = db.get(Student, current.student_id) if current and current.student_id else None
    current_order = db.get(Order, current.order_id) if current and current.order_id else None
    orders = orders_by_due(db=db, now=now)
    current_operation = db.get(OperationRecord, current.operation_id) if current and current.operation_id else None
    pending = current is not None and pending_sessions(db=db, rows=[current]).get(current.id, False)
    approval = None
    if current is not None and current_operation is not None:
        mine = [
            a
            for a in approvals_of_order(db=db, order_id=current_operation.order_id)
            if a.machine_id == machine.id and a.operation_id == current_operation.id
        ]
        approval = mine[-1] if mine and (pending or mine[-1].verdict == "OK") else None
    return KioskView(
        current=current,
        student=display_name(student) if student else None,
        current_order=current_order,
        orders=orders,
        choices=_choices(db, orders, machine),
        current_operation=current_operation,
        first_part_pending=pending,
        approval=approval,
    )


def _choices(db: Session, orders: list[Order], machine: Machine) -> list[tuple[Order, OperationRecord | None]]:
    """Each order once when it has one operation (or none), else each of its operations done on this machine."""
    found: list[tuple[Order, OperationRecord | None]] = []
    by_order = operations_by_order(db=db, order_ids=[o.id for o in orders])
    for order in orders:
        rows = by_order.get(order.id, [])
        if len(rows) <= 1:
            found.append((order, None))
            continue
        for row, step in zip(rows, operation_steps(db=db, rows=rows), strict=True):
            if step.group_machines is None or machine.id in step.group_machines:
                found.append((order, row))
    return found


def occupants(*, db: Session, now: datetime) -> dict[tuple[str, str], Occupant]:
    """Who is checked in at each machine (site, name) right now, with their order's progress."""
    stmt = (
        select(WorkSessionRecord, Machine)
        .join(Machine, Machine.id == WorkSessionRecord.machine_id)
        .where(WorkSessionRecord.ended.is_(None))
    )
    found: dict[tuple[str, str], Occupant] = {}
    occupied = db.execute(stmt).all()
    wanted = {r.order_id for r, _ in occupied if r.order_id is not None}
    orders = {o.id: o for o in db.scalars(select(Order).where(Order.id.in_(wanted)))}
    figures = progress_of_orders(db=db, orders=list(orders.values()), now=now)  # one read for every machine
    for row, machine in occupied:
        student = db.get(Student, row.student_id) if row.student_id is not None else None
        order = orders.get(row.order_id) if row.order_id is not None else None
        good = figures[order.id].good if order is not None else None
        operation = db.get(OperationRecord, row.operation_id) if row.operation_id is not None else None
        standard = None if order is None else order.standard_cycle_s
        if operation is not None and operation.standard_cycle_s is not None:
            standard = operation.standard_cycle_s  # the operation's own standard is the one the tile compares to
        found[(machine.site, machine.name)] = Occupant(
            student=display_name(student),
            student_id=row.student_id,
            order_id=None if order is None else order.id,
            order=None if order is None else f"{order.reference} · {order.part_number}",
            ordered=None if order is None else order.quantity,
            good=good,
            standard_s=standard,
            operation=None if operation is None else Step(operation.id, operation.number, tuple(operation.programs)),
        )
    return found


def who_is_where(database: Database, now: datetime) -> dict[tuple[str, str], Occupant] | None:
    """``occupants`` in a unit of work of its own; None when the store cannot answer (the tiles keep theirs)."""
    try:
        with database.reading() as db:
            return occupants(db=db, now=now)
    except (SQLAlchemyError, BusyError) as err:
        logger.warning("cannot read who is at the machines: %s", err)
        return None
