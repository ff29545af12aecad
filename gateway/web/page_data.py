"""What the pages show, read from the store: the order board, one order, a student's cycles, who is at a machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.progress import OrderProgress
from gateway.store import records_repo as repo
from gateway.store.attribution_repo import AttributedCycle, attribute, spans_of
from gateway.store.models import Machine
from gateway.store.records import Customer, Order, ScrapRecord, Student, WorkSessionRecord
from gateway.store.reports_repo import progress

ACTIVE = ("open", "in_progress")


@dataclass(frozen=True, slots=True)
class BoardLine:
    order: Order
    customer: str
    progress: OrderProgress


@dataclass(frozen=True, slots=True)
class OrderDetail:
    line: BoardLine
    cycles: list[AttributedCycle]
    scrap: list[ScrapRecord]
    students: list[tuple[int, str, int, int]]  # student id, display name, sessions, cycles
    names: dict[int, str]  # student id → display name


@dataclass(frozen=True, slots=True)
class Occupant:
    student: str  # first name and initial
    student_id: int | None
    order_id: int | None
    order: str | None
    ordered: int | None
    good: int | None
    standard_s: float | None


def display_name(student: Student | None) -> str:
    return "—" if student is None else repo.student_named(student).label


def board(*, session: Session, now: datetime, include_closed: bool = False) -> list[BoardLine]:
    """Orders by due date (undated last), each with its progress."""
    customers = dict(session.execute(select(Customer.id, Customer.name)).all())
    orders = [o for o in repo.list_orders(session=session) if include_closed or o.status in ACTIVE]
    orders.sort(key=lambda o: (o.due is None, o.due or now, o.id))
    return [BoardLine(o, customers[o.customer_id], progress(session=session, order_id=o.id, now=now)) for o in orders]


def order_detail(*, session: Session, order_id: int, now: datetime) -> OrderDetail:
    order = repo.get_row(session=session, model=Order, row_id=order_id, label="order")
    customer = session.get_one(Customer, order.customer_id).name
    line = BoardLine(order, customer, progress(session=session, order_id=order_id, now=now))
    rows = list(session.scalars(select(WorkSessionRecord).where(WorkSessionRecord.order_id == order_id)))
    found = attribute(session=session, spans=spans_of(rows), assigned_to=[r.id for r in rows])
    mine = {r.id: r for r in rows}
    cycles = sorted((c for c in found.cycles if c.owner is not None and c.owner.id in mine), key=lambda c: c.row.ended)
    scrap = list(session.scalars(select(ScrapRecord).where(ScrapRecord.order_id == order_id).order_by(ScrapRecord.ts)))
    students, names = _students(session, rows, cycles)
    return OrderDetail(line, cycles, scrap, students, names)


def _students(
    session: Session, rows: list[WorkSessionRecord], cycles: list[AttributedCycle]
) -> tuple[list[tuple[int, str, int, int]], dict[int, str]]:
    per: dict[int, list[int]] = {}
    for row in rows:
        if row.student_id is not None:
            per.setdefault(row.student_id, [0, 0])[0] += 1
    for cycle in cycles:
        assert cycle.owner is not None
        if cycle.owner.student_id is not None and cycle.row.outcome == "completed":
            per.setdefault(cycle.owner.student_id, [0, 0])[1] += 1
    names = {s.id: display_name(s) for s in session.scalars(select(Student).where(Student.id.in_(per)))}
    return sorted(((sid, names[sid], n[0], n[1]) for sid, n in per.items()), key=lambda s: (s[1], s[0])), names


def student_cycles(*, session: Session, student_id: int) -> list[tuple[AttributedCycle, float | None]]:
    """The student's cycles in time order, each with its order's standard time (None for practice)."""
    rows = list(session.scalars(select(WorkSessionRecord).where(WorkSessionRecord.student_id == student_id)))
    found = attribute(session=session, spans=spans_of(rows), assigned_to=[r.id for r in rows])
    mine = {r.id for r in rows}
    cycles = sorted((c for c in found.cycles if c.owner is not None and c.owner.id in mine), key=lambda c: c.row.ended)
    order_ids = {c.owner.order_id for c in cycles if c.owner is not None and c.owner.order_id is not None}
    standards = dict(session.execute(select(Order.id, Order.standard_cycle_s).where(Order.id.in_(order_ids))).all())
    return [(c, standards.get(c.owner.order_id) if c.owner and c.owner.order_id else None) for c in cycles]


def occupants(*, session: Session, now: datetime) -> dict[tuple[str, str], Occupant]:
    """Who is checked in at each machine (site, name) right now, with their order's progress."""
    stmt = (
        select(WorkSessionRecord, Machine)
        .join(Machine, Machine.id == WorkSessionRecord.machine_id)
        .where(WorkSessionRecord.ended.is_(None))
    )
    found: dict[tuple[str, str], Occupant] = {}
    for row, machine in session.execute(stmt).all():
        student = session.get(Student, row.student_id) if row.student_id is not None else None
        order = session.get(Order, row.order_id) if row.order_id is not None else None
        good = progress(session=session, order_id=order.id, now=now).good if order is not None else None
        found[(machine.site, machine.name)] = Occupant(
            student=display_name(student),
            student_id=row.student_id,
            order_id=None if order is None else order.id,
            order=None if order is None else f"{order.reference} · {order.part_number}",
            ordered=None if order is None else order.quantity,
            good=good,
            standard_s=None if order is None else order.standard_cycle_s,
        )
    return found
