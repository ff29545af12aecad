"""A student's practice log over a period, as the diploma record prints it: the log (``reports_repo``), its
orders against their standards, the first-part approvals and the competences validated in the period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain.practice_record import OrderPractice, Period, SessionFacts, ValidatedCompetence, order_lines
from gateway.store.models import CompetenceRecord, CompetenceValidation, Customer, Order, WorkSessionRecord
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
    lines = order_lines(
        facts, references=found.orders, standards=order_standards(db=db, order_ids=order_ids), customers=customers
    )
    competences = validated(db=db, student_id=student_id, start=start, end=end)
    return LogRecord(found, period, lines, competences, show_customers)


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
    return [
        ValidatedCompetence(c.diploma, c.block, c.code, c.label, v.level, v.by, v.at, v.comment)
        for v, c in db.execute(stmt).all()
    ]


def customer_names(*, db: Session, order_ids: Iterable[int | None]) -> dict[int, str]:
    """Order id → its customer's name."""
    order_ids = {i for i in order_ids if i is not None}
    if not order_ids:
        return {}
    stmt = select(Order.id, Customer.name).join(Customer, Customer.id == Order.customer_id)
    return {row[0]: row[1] for row in db.execute(stmt.where(Order.id.in_(order_ids)))}
