"""A student's practice log over a period, as the diploma record prints it: the log (``reports_repo``), its
orders against their standards, the first-part approvals and the competences validated in the period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain.practice_record import (
    ApprovalLine,
    OrderPractice,
    Period,
    SessionFacts,
    Step,
    ValidatedCompetence,
    order_lines,
)
from gateway.store.competences_repo import evidence_of
from gateway.store.models import (
    CompetenceRecord,
    CompetenceValidation,
    Customer,
    OperationRecord,
    Order,
    WorkSessionRecord,
)
from gateway.store.orders_repo import order_standards
from gateway.store.reports_repo import StudentLog, student_log
from gateway.store.students_repo import get_student


@dataclass(frozen=True, slots=True)
class LogRecord:
    found: StudentLog
    period: Period
    orders: list[OrderPractice]
    competences: list[ValidatedCompetence]  # oldest first, as a record reads
    customers_shown: bool
    approvals: list[ApprovalLine]  # the first-part verdicts given in the student's sessions, in time order


def first_day(*, db: Session, student_id: int) -> datetime | None:
    """When the student's first work session started: where a record with no period begins."""
    stmt = select(func.min(WorkSessionRecord.started)).where(WorkSessionRecord.student_id == student_id)
    found: datetime | None = db.scalar(stmt)
    return found


def log_record(
    *, db: Session, student_id: int, now: datetime, zone: str, period: Period, show_customers: bool = True
) -> LogRecord:
    start, end = period.start(zone), period.end(zone)
    found = student_log(db=db, student_id=student_id, now=now, since=start, until=end, zone=zone)
    facts = [
        SessionFacts(
            order_id=row.order_id,
            operation_id=row.operation_id,
            session_s=((row.ended or now) - row.started).total_seconds(),
            setup_s=found.per_session[row.id].setup_s,
            cycles=found.per_session[row.id].cycles,
            completed_s=found.per_session[row.id].completed_s,
            parts=found.per_session[row.id].parts,
        )
        for row in found.sessions
    ]
    order_ids = {f.order_id for f in facts if f.order_id is not None}
    customers = customer_names(db=db, order_ids=order_ids) if show_customers else None
    steps = operation_steps(db=db, operation_ids={r.operation_id for r in found.sessions})
    standards = order_standards(db=db, order_ids=order_ids)
    lines = order_lines(facts, references=found.orders, standards=standards, customers=customers, steps=steps)
    competences = validated(db=db, student_id=student_id, start=start, end=end)
    return LogRecord(found, period, lines, competences, show_customers, approval_lines(found))


def operation_steps(*, db: Session, operation_ids: Iterable[int | None]) -> dict[int, Step]:
    """Operation id → its number and standards."""
    wanted = {i for i in operation_ids if i is not None}
    if not wanted:
        return {}
    stmt = select(OperationRecord).where(OperationRecord.id.in_(wanted))
    return {o.id: Step(o.number, o.standard_cycle_s, o.standard_setup_s) for o in db.scalars(stmt)}


def approval_lines(found: StudentLog) -> list[ApprovalLine]:
    """The verdicts given in the student's sessions, with the order, operation and machine each was given on."""
    sessions = {row.id: row for row in found.sessions}
    lines = []
    for a in found.approvals:
        row = sessions.get(a.session_id) if a.session_id is not None else None
        number = None if row is None else found.operation_number(row)
        lines.append(
            ApprovalLine(
                order=(None if row is None else found.order_reference(row)) or "—",
                operation=None if number is None else str(number),
                machine=found.machines.get(a.machine_id, "?"),
                verdict=a.verdict.lower(),
                measured=a.measured,
                note=a.note,
                by=a.by,
                at=a.at,
            )
        )
    return lines


def validated(*, db: Session, student_id: int, start: datetime, end: datetime) -> list[ValidatedCompetence]:
    """The competences validated for the student in [start, end), oldest first."""
    get_student(db=db, student_id=student_id)
    stmt = (
        select(CompetenceValidation, CompetenceRecord)
        .join(CompetenceRecord, CompetenceRecord.id == CompetenceValidation.competence_id)
        .where(
            CompetenceValidation.student_id == student_id,
            CompetenceValidation.at >= start,
            CompetenceValidation.at < end,
        )
        .order_by(CompetenceValidation.at, CompetenceValidation.id)
    )
    rows = db.execute(stmt).all()
    evidence = evidence_of(db=db, validations=[v for v, _ in rows])
    return [
        ValidatedCompetence(c.diploma, c.block, c.code, c.label, v.level, v.by, v.at, v.comment, evidence[v.id])
        for v, c in rows
    ]


def customer_names(*, db: Session, order_ids: Iterable[int | None]) -> dict[int, str]:
    """Order id → its customer's name."""
    order_ids = {i for i in order_ids if i is not None}
    if not order_ids:
        return {}
    stmt = select(Order.id, Customer.name).join(Customer, Customer.id == Order.customer_id)
    return {row[0]: row[1] for row in db.execute(stmt.where(Order.id.in_(order_ids)))}
