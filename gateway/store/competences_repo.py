"""The référentiel the school imports and the competences its masters validate, with their evidence. Audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.referentiel import Competence
from gateway.errors import InvalidError
from gateway.store.audit_log import audit, audited_create
from gateway.store.models import CompetenceRecord, CompetenceValidation, Student, WorkSessionRecord
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
) -> CompetenceValidation:
    get_row(db=db, model=Student, row_id=student_id, label="student")
    get_row(db=db, model=CompetenceRecord, row_id=competence_id, label="competence")
    if session_id is not None:
        work = get_row(db=db, model=WorkSessionRecord, row_id=session_id, label="work_session")
        if work.student_id != student_id:
            raise InvalidError("evidence_of_another_student", session_id=session_id)
    row = CompetenceValidation(
        student_id=student_id,
        competence_id=competence_id,
        level=level,
        comment=comment,
        by=who,
        at=now,
        session_id=session_id,
    )
    return audited_create(db=db, who=who, row=row, entity="competence_validation", now=now)


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
