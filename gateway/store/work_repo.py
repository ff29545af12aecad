"""Work sessions (check-in and check-out), scrap declarations and a master's cycle assignments.

Overlapping sessions on one machine are refused (``SessionConflictError`` of the
domain, turned into ``ConflictError``); a partial unique index also guards the
"one open session per machine" rule. Every change writes an audit entry.

The kiosk's actions are idempotent, because a double click or a second badge
swipe sends the same request twice: a check-in of a student already checked in
at this machine for this order returns that session; a check-out of a machine
whose last session is already closed by the same badge returns it; a scrap
declaration sent again with its idempotency key returns the first one. Each
check-then-write locks the rows it depends on first (``lock``: the machine, then
the student; the order for scrap), so that two requests at once on PostgreSQL
run one after the other and the second sees the first; SQLite's writers take
its single write lock at BEGIN (``db.writer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.domain.attribution import SessionConflictError, check_no_overlap
from gateway.domain.model import WorkSession
from gateway.errors import ConflictError, InvalidError
from gateway.store.audit_log import audit, audited_update, snapshot
from gateway.store.authorisations_repo import permit
from gateway.store.machines_repo import machine_key, machine_named
from gateway.store.models import Cycle, CycleAssignment, Machine, Order, ScrapRecord, Student, WorkSessionRecord
from gateway.store.operations_repo import choose_operation, operations_of
from gateway.store.orders_repo import order_named
from gateway.store.rows import get_row
from gateway.store.students_repo import student_named
from gateway.store.summaries_repo import mark_span

CLOSED_ORDER = ("done", "cancelled")


def to_domain(row: WorkSessionRecord, machine: Machine) -> WorkSession:
    return WorkSession(
        id=row.id,
        machine=machine_key(machine),
        student_id=row.student_id,
        order_id=row.order_id,
        start=row.started,
        end=row.ended,
    )


def work_sessions_on(
    *, db: Session, machine: Machine, start: datetime, end: datetime | None
) -> list[WorkSessionRecord]:
    """Sessions on ``machine`` that overlap [start, end)."""
    stmt = select(WorkSessionRecord).where(
        WorkSessionRecord.machine_id == machine.id,
        or_(WorkSessionRecord.ended.is_(None), WorkSessionRecord.ended > start),
    )
    if end is not None:
        stmt = stmt.where(WorkSessionRecord.started < end)
    return list(db.scalars(stmt.order_by(WorkSessionRecord.started)))


def open_work_session(*, db: Session, machine: Machine) -> WorkSessionRecord | None:
    stmt = select(WorkSessionRecord).where(
        WorkSessionRecord.machine_id == machine.id, WorkSessionRecord.ended.is_(None)
    )
    return db.scalars(stmt).first()


def lock(db: Session, model: type[Machine | Student | Order], row_id: int) -> None:
    """Hold the row until the transaction ends (PostgreSQL; SQLite's writer already holds the database).

    Always machine before student, so that two transactions never wait for each other in a circle.
    """
    db.execute(select(model.id).where(model.id == row_id).with_for_update())


def _check_free(
    db: Session, machine: Machine, start: datetime, end: datetime | None, ignore: int | None = None
) -> None:
    existing = [to_domain(r, machine) for r in work_sessions_on(db=db, machine=machine, start=start, end=end)]
    try:
        check_no_overlap(existing, machine_key(machine), start, end, ignore=ignore)
    except SessionConflictError as err:
        other = err.other
        student = db.get(Student, other.student_id) if other.student_id is not None else None
        code = "machine_taken" if other.end is None else "session_overlap"
        raise ConflictError(
            code,
            machine=machine_named(machine),
            student=None if student is None else student_named(student),
            since=other.start,
            session_id=other.id,
        ) from err
    except ValueError as err:
        raise InvalidError("session_ends_before_start") from err


def _check_people(db: Session, student_id: int, order_id: int | None) -> Order | None:
    student = get_row(db=db, model=Student, row_id=student_id, label="student")
    if not student.active:
        raise ConflictError("student_inactive", student=student_named(student))
    if order_id is None:
        return None
    order = get_row(db=db, model=Order, row_id=order_id, label="order")
    if order.status in CLOSED_ORDER:
        raise ConflictError(f"order_{order.status}", order=order_named(order))
    return order


@dataclass(frozen=True, slots=True)
class Wanted:
    """The operation a check-in asks for, by id or by number; neither: the order's only one."""

    id: int | None = None
    number: int | None = None


def _operation(db: Session, order: Order | None, machine: Machine, wanted: Wanted) -> int | None:
    if order is None:
        if wanted.id is not None or wanted.number is not None:
            raise InvalidError("operation_no_order")
        return None
    row = choose_operation(db=db, order=order, machine=machine, operation_id=wanted.id, number=wanted.number)
    return None if row is None else row.id


NO_CHOICE = Wanted()


def check_in(
    *,
    db: Session,
    who: str,
    machine: Machine,
    student_id: int,
    order_id: int | None,
    at: datetime,
    day: date,
    operation: Wanted = NO_CHOICE,
) -> tuple[WorkSessionRecord, bool]:
    """The student's session at the machine, and whether it is new (False: the same check-in again).

    ``day``: the school's date at ``at``, the day an authorisation must be valid on. ``operation``: the
    order's operation the session works on (an order with one operation needs no choice).
    """
    lock(db, Machine, machine.id)
    lock(db, Student, student_id)
    order = _check_people(db, student_id, order_id)
    operation_id = _operation(db, order, machine, operation)
    mine = db.scalars(
        select(WorkSessionRecord).where(WorkSessionRecord.student_id == student_id, WorkSessionRecord.ended.is_(None))
    ).first()
    if mine is not None:
        if mine.machine_id == machine.id and mine.order_id == order_id and mine.operation_id == operation_id:
            return mine, False
        where = db.get_one(Machine, mine.machine_id)
        student = db.get_one(Student, student_id)
        raise ConflictError(
            "student_busy",
            student=student_named(student),
            machine=machine_named(where),
            since=mine.started,
            session_id=mine.id,
        )
    allowed = permit(db=db, student_id=student_id, machine=machine, day=day)
    _check_free(db, machine, at, None)
    row = _add_work_session(
        db,
        who,
        machine=machine,
        people=(student_id, order_id),
        times=(at, None),
        now=at,
        master_on_duty=allowed.master_on_duty,
        operation_id=operation_id,
    )
    return row, True


def add_work_session(
    *,
    db: Session,
    who: str,
    machine: Machine,
    student_id: int,
    order_id: int | None,
    start: datetime,
    end: datetime,
    now: datetime,
    operation: Wanted = NO_CHOICE,
) -> WorkSessionRecord:
    """A master records a session after the fact (a student who forgot to badge)."""
    order = _check_people(db, student_id, order_id)
    operation_id = _operation(db, order, machine, operation)
    _check_free(db, machine, start, end)
    return _add_work_session(
        db, who, machine=machine, people=(student_id, order_id), times=(start, end), now=now, operation_id=operation_id
    )


def _add_work_session(
    db: Session,
    who: str,
    *,
    machine: Machine,
    people: tuple[int, int | None],
    times: tuple[datetime, datetime | None],
    now: datetime,
    master_on_duty: str | None = None,
    operation_id: int | None = None,
) -> WorkSessionRecord:
    (student_id, order_id), (start, end) = people, times
    row = WorkSessionRecord(
        machine_id=machine.id,
        student_id=student_id,
        order_id=order_id,
        started=start,
        ended=end,
        opened_by=who,
        master_on_duty=master_on_duty,
        operation_id=operation_id,
    )
    db.add(row)
    db.flush()
    audit(db=db, who=who, action="create", entity="work_session", entity_id=row.id, at=now, after=snapshot(row))
    mark_span(db=db, now=now, machine_id=machine.id, start=start, end=end)  # cycles it now owns
    return row


def check_out(
    *, db: Session, who: str, machine: Machine, at: datetime, student_id: int | None = None
) -> tuple[WorkSessionRecord, bool]:
    """Close the machine's open session, and say whether this call closed it.

    ``student_id`` (from the badge a kiosk must send) must be the student in the session; a master's
    badge sends none and ends whoever's session (``who`` is then the master, its ``closed_by``). When the
    machine's last session is that student's and already closed, it is returned unchanged: the same
    check-out again (a double click) ends the session once.
    """
    lock(db, Machine, machine.id)
    row = open_work_session(db=db, machine=machine)
    if row is None:
        last = db.scalars(
            select(WorkSessionRecord)
            .where(WorkSessionRecord.machine_id == machine.id)
            .order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
            .limit(1)
        ).first()
        if student_id is not None and last is not None and last.student_id == student_id:
            return last, False
        raise ConflictError("nobody_checked_in", machine=machine_named(machine))
    if student_id is not None and row.student_id != student_id:
        raise ConflictError("not_your_session", machine=machine_named(machine))
    before = snapshot(row)
    # A check-out a little before a check-in (clock skew between kiosk and gateway) closes at the start.
    row.ended = max(at, row.started)
    row.closed_by = who
    db.flush()
    mark_span(db=db, now=at, machine_id=row.machine_id, start=row.started, end=None)
    audit(
        db=db,
        who=who,
        action="check_out",
        entity="work_session",
        entity_id=row.id,
        at=at,
        before=before,
        after=snapshot(row),
    )
    return row, True


def update_work_session(
    *, db: Session, who: str, work_session_id: int, changes: Mapping[str, Any], now: datetime
) -> WorkSessionRecord:
    """A master's correction: another order, operation or student, other times. Overlaps are refused.

    Another order takes the new order's operation (``operation_id``, or its only one).
    """
    row = get_row(db=db, model=WorkSessionRecord, row_id=work_session_id, label="work session")
    machine = db.get_one(Machine, row.machine_id)
    start, end = changes.get("started", row.started), changes.get("ended", row.ended)
    _check_free(db, machine, start, end, ignore=row.id)
    student_id = changes.get("student_id", row.student_id)
    if student_id is not None and ("student_id" in changes or "order_id" in changes):
        _check_people(db, student_id, changes.get("order_id", row.order_id))
    if "order_id" in changes or "operation_id" in changes:
        order_id = changes.get("order_id", row.order_id)
        order = None if order_id is None else get_row(db=db, model=Order, row_id=order_id, label="order")
        changes = {**changes, "operation_id": _operation(db, order, machine, Wanted(id=changes.get("operation_id")))}
    # The cycles it owned and those it owns now: the days of its times before and after the correction.
    mark_span(db=db, now=now, machine_id=row.machine_id, start=row.started, end=row.ended)
    audited_update(db=db, who=who, row=row, entity="work_session", changes=changes, now=now)
    mark_span(db=db, now=now, machine_id=row.machine_id, start=row.started, end=row.ended)
    return row


def list_work_sessions(
    *, db: Session, machine_id: int | None = None, student_id: int | None = None, open_only: bool = False
) -> list[WorkSessionRecord]:
    stmt = select(WorkSessionRecord).order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
    if machine_id is not None:
        stmt = stmt.where(WorkSessionRecord.machine_id == machine_id)
    if student_id is not None:
        stmt = stmt.where(WorkSessionRecord.student_id == student_id)
    if open_only:
        stmt = stmt.where(WorkSessionRecord.ended.is_(None))
    return list(db.scalars(stmt.limit(1000)))


# --- scrap -------------------------------------------------------------------


def declare_scrap(
    *,
    db: Session,
    who: str,
    order_id: int,
    quantity: int,
    reason: str,
    inspected_by: str,
    ts: datetime,
    machine: Machine | None,
    now: datetime,
    key: str | None = None,
    operation_id: int | None = None,
) -> tuple[ScrapRecord, bool]:
    """The declaration, and whether it is new (False: the same ``key`` again, the first one returned).

    The scrap belongs to the operation of the session it was declared in, or to ``operation_id`` (one of
    the order's); outside any session and operation, progress counts it at the order's last operation.
    """
    if quantity <= 0:
        raise InvalidError("scrap_quantity", quantity=quantity)
    lock(db, Order, order_id)
    order = get_row(db=db, model=Order, row_id=order_id, label="order")
    if key is not None:
        same = db.scalars(select(ScrapRecord).where(ScrapRecord.idempotency_key == key)).first()
        if same is not None:
            wanted = (order.id, quantity, reason, inspected_by, machine.id if machine else None)
            if (same.order_id, same.quantity, same.reason, same.inspected_by, same.machine_id) != wanted:
                raise ConflictError("idempotency_key_reused", key=key)
            return same, False
    owner = None
    if machine is not None:
        rows = work_sessions_on(db=db, machine=machine, start=ts, end=None)
        owner = next((r for r in rows if r.started <= ts and (r.ended is None or ts < r.ended)), None)
    if operation_id is not None:
        operations = {o.id for o in operations_of(db=db, order_id=order.id)}
        if operation_id not in operations:
            raise InvalidError("operation_not_of_order", order=order_named(order))
    elif owner is not None and owner.order_id == order.id:
        operation_id = owner.operation_id
    row = ScrapRecord(
        order_id=order_id,
        quantity=quantity,
        reason=reason,
        inspected_by=inspected_by,
        ts=ts,
        session_id=owner.id if owner else None,
        machine_id=machine.id if machine else None,
        declared_by=who,
        idempotency_key=key,
        operation_id=operation_id,
    )
    db.add(row)
    db.flush()
    audit(db=db, who=who, action="create", entity="scrap", entity_id=row.id, at=now, after=snapshot(row))
    return row, True


def scrap_of(*, db: Session, order_id: int | None) -> list[ScrapRecord]:
    stmt = select(ScrapRecord).order_by(ScrapRecord.ts.desc(), ScrapRecord.id.desc())
    if order_id is not None:
        stmt = stmt.where(ScrapRecord.order_id == order_id)
    return list(db.scalars(stmt.limit(1000)))


# --- a master's assignment of a cycle ----------------------------------------


def assign_cycle(*, db: Session, who: str, cycle_id: int, work_session_id: int, now: datetime) -> CycleAssignment:
    """Assign (or reassign) a cycle to a work session on the same machine; audited."""
    cycle = get_row(db=db, model=Cycle, row_id=cycle_id, label="cycle")
    target = get_row(db=db, model=WorkSessionRecord, row_id=work_session_id, label="work session")
    if target.machine_id != cycle.machine_id:
        raise ConflictError("cycle_other_machine", cycle_id=cycle_id, session_id=work_session_id)
    row = db.scalars(select(CycleAssignment).where(CycleAssignment.cycle_id == cycle_id)).first()
    before = snapshot(row) if row is not None else None
    if row is None:
        row = CycleAssignment(cycle_id=cycle_id, session_id=work_session_id, by=who, at=now)
        db.add(row)
    else:
        row.session_id, row.by, row.at = work_session_id, who, now
    db.flush()
    mark_span(db=db, now=now, machine_id=cycle.machine_id, start=cycle.started, end=cycle.ended)
    action = "assign" if before is None else "reassign"
    audit(
        db=db,
        who=who,
        action=action,
        entity="cycle",
        entity_id=cycle_id,
        at=now,
        before=before,
        after=snapshot(row),
    )
    return row
