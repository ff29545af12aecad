"""What the desk's work pages read: sessions named as people know them, what a session may be set to, loose cycles.

Each function returns plain results a template reads; the pages do no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.store.attribution_repo import CycleRow, unattributed
from gateway.store.machines_repo import machine_labels
from gateway.store.models import OperationRecord, Order, Student, WorkSessionRecord
from gateway.store.operations_repo import operations_by_order
from gateway.store.orders_repo import order_references, orders_by_due
from gateway.store.rows import get_row
from gateway.store.students_repo import display_name, list_students

MAX_LINES = 500


@dataclass(frozen=True, slots=True)
class SessionLine:
    row: WorkSessionRecord
    machine: str  # the machine's name in the workshop
    student: str  # first name and initial; a dash once the student was deleted
    order: str | None  # the order's reference; None for practice


@dataclass(frozen=True, slots=True)
class SessionChoices:
    students: list[Student]  # active students, and the session's own when it is not
    orders: list[Order]  # orders a student may work on, and the session's own when closed
    operations: list[tuple[Order, OperationRecord]] = field(default_factory=list)  # of orders with several


def session_lines(*, db: Session, since: datetime) -> list[SessionLine]:
    """Sessions still open (however old) and those started since ``since``, latest first."""
    stmt = (
        select(WorkSessionRecord)
        .where(or_(WorkSessionRecord.ended.is_(None), WorkSessionRecord.started >= since))
        .order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
        .limit(MAX_LINES)
    )
    return _lines(db, list(db.scalars(stmt)))


def session_line(*, db: Session, session_id: int) -> SessionLine:
    row = get_row(db=db, model=WorkSessionRecord, row_id=session_id, label="work session")
    return _lines(db, [row])[0]


def _lines(db: Session, rows: list[WorkSessionRecord]) -> list[SessionLine]:
    machines = machine_labels(db=db, ids={r.machine_id for r in rows})
    orders = order_references(db=db, order_ids={r.order_id for r in rows if r.order_id is not None})
    wanted = {r.student_id for r in rows if r.student_id is not None}
    students = {s.id: s for s in db.scalars(select(Student).where(Student.id.in_(wanted)))} if wanted else {}
    return [
        SessionLine(
            row=r,
            machine=machines[r.machine_id],
            student=display_name(students.get(r.student_id) if r.student_id is not None else None),
            order=None if r.order_id is None else orders[r.order_id],
        )
        for r in rows
    ]


def session_choices(*, db: Session, student_id: int | None, order_id: int | None, now: datetime) -> SessionChoices:
    """Who and what a session may be set to; its own student and order stay in the lists."""
    students = list_students(db=db, active=True)
    if student_id is not None and all(s.id != student_id for s in students):
        students.append(db.get_one(Student, student_id))
    orders = orders_by_due(db=db, now=now)
    if order_id is not None and all(o.id != order_id for o in orders):
        orders.append(db.get_one(Order, order_id))
    by_order = operations_by_order(db=db, order_ids=[o.id for o in orders])
    operations = [(o, op) for o in orders if len(by_order.get(o.id, [])) > 1 for op in by_order[o.id]]
    return SessionChoices(students, orders, operations)


@dataclass(frozen=True, slots=True)
class LooseCycle:
    """A cycle no session covers and no master assigned."""

    row: CycleRow
    machine: str  # the machine's name in the workshop


def loose_cycles(*, db: Session, since: datetime, until: datetime) -> list[LooseCycle]:
    """Cycles ended in [since, until) without a student, by machine then time."""
    found = unattributed(db=db, since=since, until=until)
    names = machine_labels(db=db, ids={c.row.machine_id for c in found})
    loose = [LooseCycle(c.row, names[c.row.machine_id]) for c in found]
    return sorted(loose, key=lambda c: (c.machine, c.row.started, c.row.id))[:MAX_LINES]
