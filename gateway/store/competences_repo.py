"""The référentiel the school imports and the competences its masters validate, with their evidence. Audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.practice_record import Evidence
from gateway.domain.referentiel import Competence
from gateway.errors import InvalidError
from gateway.store.audit_log import audit, audited_create
from gateway.store.models import (
    CompetenceRecord,
    CompetenceValidation,
    FirstPartApproval,
    OperationRecord,
    Order,
    Student,
    WorkSessionRecord,
)
from gateway.store.rows import get_row


def import_referentiel(*, db: Session, who: str, now: datetime, competences: list[Competence]) -> tuple[int, int]:
    """Add the new competences and update the labels and blocks of known ones (same diploma and code).

    Nothing is removed: a competence already validated stays, with its validations.
    """
    known = {(c.diploma, c.code): c for c in db.scalars(select(CompetenceRecord))}
    created = updated = 0
    for item in competences:
        row = known.get((item.diploma, item.code))
        if row is None:
            row = CompetenceRecord(diploma=item.diploma, block=item.block, code=item.code, label=item.label)
            db.add(row)
            known[(item.diploma, item.code)] = row
            created += 1
        elif (row.block, row.label) != (item.block, item.label):
            row.block, row.label = item.block, item.label
            updated += 1
    db.flush()
    summary = {"created": created, "updated": updated, "lines": len(competences)}
    audit(db=db, who=who, action="import", entity="referentiel", entity_id=None, at=now, after=summary)
    return created, updated


def list_competences(*, db: Session, diploma: str | None = None) -> list[CompetenceRecord]:
    stmt = select(CompetenceRecord).order_by(CompetenceRecord.diploma, CompetenceRecord.block, CompetenceRecord.code)
    if diploma is not None:
        stmt = stmt.where(CompetenceRecord.diploma == diploma)
    return list(db.scalars(stmt))


def validate(
    *,
    db: Session,
    who: str,
    now: datetime,
    student_id: int,
    competence_id: int,
    level: str,
    comment: str,
    session_id: int | None,
    operation_id: int | None = None,
    approval_id: int | None = None,
) -> CompetenceValidation:
    get_row(db=db, model=Student, row_id=student_id, label="student")
    get_row(db=db, model=CompetenceRecord, row_id=competence_id, label="competence")
    session_id, operation_id = _evidence(
        db=db, student_id=student_id, session_id=session_id, operation_id=operation_id, approval_id=approval_id
    )
    row = CompetenceValidation(
        student_id=student_id,
        competence_id=competence_id,
        level=level,
        comment=comment,
        by=who,
        at=now,
        session_id=session_id,
        operation_id=operation_id,
        approval_id=approval_id,
    )
    return audited_create(db=db, who=who, row=row, entity="competence_validation", now=now)


def _evidence(
    *, db: Session, student_id: int, session_id: int | None, operation_id: int | None, approval_id: int | None
) -> tuple[int | None, int | None]:
    """The session and operation a validation rests on, checked to be the student's own work.

    An approval names its session and operation, a session its operation: what is given must agree with them,
    and what is not given is filled from them (so the record prints "CMD-0515 op 20" for a session alone).
    """
    if approval_id is not None:
        approval = get_row(db=db, model=FirstPartApproval, row_id=approval_id, label="first_part_approval")
        owner = None if approval.session_id is None else db.get(WorkSessionRecord, approval.session_id)
        if owner is None or owner.student_id != student_id:
            raise InvalidError("evidence_of_another_student", approval_id=approval_id)
        if session_id is not None and session_id != approval.session_id:
            raise InvalidError("evidence_mismatch", approval_id=approval_id, session_id=session_id)
        if operation_id is not None and operation_id != approval.operation_id:
            raise InvalidError("evidence_mismatch", approval_id=approval_id, operation_id=operation_id)
        session_id, operation_id = approval.session_id, approval.operation_id
    if session_id is not None:
        work = get_row(db=db, model=WorkSessionRecord, row_id=session_id, label="work_session")
        if work.student_id != student_id:
            raise InvalidError("evidence_of_another_student", session_id=session_id)
        if operation_id is not None and operation_id != work.operation_id:
            raise InvalidError("evidence_mismatch", session_id=session_id, operation_id=operation_id)
        return session_id, work.operation_id
    if operation_id is not None:
        get_row(db=db, model=OperationRecord, row_id=operation_id, label="operation")
        worked = select(WorkSessionRecord.id).where(
            WorkSessionRecord.student_id == student_id, WorkSessionRecord.operation_id == operation_id
        )
        if db.scalar(worked.limit(1)) is None:
            raise InvalidError("evidence_not_worked", operation_id=operation_id)
    return None, operation_id


@dataclass(frozen=True, slots=True)
class GridLine:
    """A competence and a student's validations of it, newest first (the first is where they stand)."""

    competence: CompetenceRecord
    validations: list[CompetenceValidation]

    @property
    def level(self) -> str | None:
        return self.validations[0].level if self.validations else None


def validations_of(*, db: Session, student_ids: list[int]) -> list[CompetenceValidation]:
    if not student_ids:
        return []
    stmt = (
        select(CompetenceValidation)
        .where(CompetenceValidation.student_id.in_(student_ids))
        .order_by(CompetenceValidation.at.desc(), CompetenceValidation.id.desc())
    )
    return list(db.scalars(stmt))


def evidence_of(*, db: Session, validations: list[CompetenceValidation]) -> dict[int, Evidence]:
    """Validation id → the work it rests on (order reference, operation number, session, first-part verdict)."""
    operation_ids = {v.operation_id for v in validations if v.operation_id is not None}
    session_ids = {v.session_id for v in validations if v.session_id is not None}
    approval_ids = {v.approval_id for v in validations if v.approval_id is not None}
    steps = _steps(db=db, operation_ids=operation_ids)
    started: dict[int, datetime] = {}
    if session_ids:
        stmt_s = select(WorkSessionRecord.id, WorkSessionRecord.started).where(WorkSessionRecord.id.in_(session_ids))
        started = {row[0]: row[1] for row in db.execute(stmt_s)}
    verdicts: dict[int, FirstPartApproval] = {}
    if approval_ids:
        approvals = select(FirstPartApproval).where(FirstPartApproval.id.in_(approval_ids))
        verdicts = {a.id: a for a in db.scalars(approvals)}
    found = {}
    for v in validations:
        step = steps.get(v.operation_id) if v.operation_id is not None else None
        approval = verdicts.get(v.approval_id) if v.approval_id is not None else None
        found[v.id] = Evidence(
            order=None if step is None else step[0],
            operation=None if step is None else step[1],
            session_started=None if v.session_id is None else started.get(v.session_id),
            verdict=None if approval is None else approval.verdict,
            approved_at=None if approval is None else approval.at,
        )
    return found


@dataclass(frozen=True, slots=True)
class EvidenceChoices:
    """What a master may rest a validation on: the student's latest sessions and the first parts judged in them."""

    sessions: list[tuple[WorkSessionRecord, Evidence]]  # newest first
    approvals: list[tuple[FirstPartApproval, Evidence]]  # newest first


def evidence_choices(*, db: Session, student_id: int, limit: int = 50) -> EvidenceChoices:
    stmt = (
        select(WorkSessionRecord)
        .where(WorkSessionRecord.student_id == student_id)
        .order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
        .limit(limit)
    )
    sessions = list(db.scalars(stmt))
    steps = _steps(db=db, operation_ids={s.operation_id for s in sessions if s.operation_id is not None})
    by_id = {s.id: s for s in sessions}

    def of(work: WorkSessionRecord) -> Evidence:
        step = steps.get(work.operation_id) if work.operation_id is not None else None
        return Evidence(
            order=None if step is None else step[0],
            operation=None if step is None else step[1],
            session_started=work.started,
        )

    approvals = select(FirstPartApproval).where(FirstPartApproval.session_id.in_(by_id))
    judged = db.scalars(approvals.order_by(FirstPartApproval.at.desc(), FirstPartApproval.id.desc()))
    return EvidenceChoices(
        sessions=[(s, of(s)) for s in sessions],
        approvals=[(a, of(by_id[a.session_id])) for a in judged if a.session_id is not None],
    )


def _steps(*, db: Session, operation_ids: set[int]) -> dict[int, tuple[str, int]]:
    """Operation id → its order's reference and its number."""
    if not operation_ids:
        return {}
    stmt = (
        select(OperationRecord.id, Order.reference, OperationRecord.number)
        .join(Order, Order.id == OperationRecord.order_id)
        .where(OperationRecord.id.in_(operation_ids))
    )
    return {row[0]: (row[1], row[2]) for row in db.execute(stmt)}


def student_grid(*, db: Session, student_id: int, diploma: str | None = None) -> list[GridLine]:
    """Every competence of the référentiel (one diploma's, or all) with this student's validations."""
    get_row(db=db, model=Student, row_id=student_id, label="student")
    found: dict[int, list[CompetenceValidation]] = {}
    for v in validations_of(db=db, student_ids=[student_id]):
        found.setdefault(v.competence_id, []).append(v)
    return [GridLine(c, found.get(c.id, [])) for c in list_competences(db=db, diploma=diploma)]


def class_grid(
    *, db: Session, class_name: str, diploma: str | None = None
) -> tuple[list[Student], list[CompetenceRecord], dict[tuple[int, int], str]]:
    """The class's active students, the competences, and each (student, competence)'s latest level."""
    students = list(
        db.scalars(
            select(Student)
            .where(Student.class_name == class_name, Student.active.is_(True))
            .order_by(Student.first_name, Student.id)
        )
    )
    latest: dict[tuple[int, int], str] = {}
    for v in validations_of(db=db, student_ids=[s.id for s in students]):
        latest.setdefault((v.student_id, v.competence_id), v.level)
    return students, list_competences(db=db, diploma=diploma), latest
