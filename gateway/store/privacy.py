"""Privacy for minors: export everything held on a student, delete a student, purge old practice logs.

Deleting a student removes the student row, the student's logins, machine authorisations, competence validations and the
personal data in the audit log, and detaches the work sessions (their
``student_id`` becomes NULL). The audit log keeps no trail of the deleted id:
entries about the student or their logins lose their id and contents, and the
entries of their work sessions lose the student's id, so that nothing links the
number back to the sessions it had. The sessions themselves stay: they own the cycles
and parts of customer orders, so an order's counts do not change. The retention
purge detaches sessions that ended before the cut-off the same way, so a
practice log older than the retention period no longer names anyone.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session

from gateway.config import RecordsSection
from gateway.store.audit_log import audit, snapshot
from gateway.store.models import (
    AuditEntry,
    Authorisation,
    CompetenceValidation,
    LoginSession,
    ScrapRecord,
    User,
    WorkSessionRecord,
)
from gateway.store.reports_repo import student_log
from gateway.store.students_repo import get_student

logger = logging.getLogger(__name__)
ERASED = {"erased": "personal data removed"}


def export_student(*, db: Session, student_id: int, now: datetime) -> dict[str, Any]:
    """Everything held on one student, as JSON-ready data (the right of access)."""
    found = student_log(db=db, student_id=student_id, now=now)
    session_ids = [r.id for r in found.sessions]
    scrap = list(db.scalars(select(ScrapRecord).where(ScrapRecord.session_id.in_(session_ids)))) if session_ids else []
    logins = db.scalars(select(User).where(User.student_id == student_id))
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "student", AuditEntry.entity_id == student_id)
        .order_by(AuditEntry.id)
    )
    log = found.log
    return {
        "exported_at": now.isoformat(),
        "student": snapshot(found.student),
        "logins": [{"username": u.username, "role": u.role, "created": u.created.isoformat()} for u in logins],
        "work_sessions": [{**snapshot(r), "machine": found.machines[r.machine_id]} for r in found.sessions],
        "scrap_declared_on_their_sessions": [snapshot(s) for s in scrap],
        # The masters' verdicts on first parts the student made: kept with the order when the student is erased
        # (they name no student, only the session, which is detached).
        "first_part_approvals_on_their_sessions": [snapshot(a) for a in found.approvals],
        "competence_validations": [
            snapshot(v)
            for v in db.scalars(select(CompetenceValidation).where(CompetenceValidation.student_id == student_id))
        ],
        "machine_authorisations": [
            snapshot(a) for a in db.scalars(select(Authorisation).where(Authorisation.student_id == student_id))
        ],
        "practice_summary": {
            "sessions": log.sessions,
            "session_s": log.session_s,
            "cycle_s": log.cycle_s,
            "cycles": log.cycles,
            "parts_made": log.parts_made,
            "scrap": log.scrap,
            "good": log.good,
            "mean_cycle_s": log.mean_cycle_s,
            "best_cycle_s": log.best_cycle_s,
        },
        "audit_log": [
            {"who": e.who, "at": e.at.isoformat(), "action": e.action, "before": e.before, "after": e.after}
            for e in entries
        ],
    }


def delete_student(*, db: Session, who: str, student_id: int, now: datetime) -> int:
    """Delete the student and detach their sessions; returns how many sessions were detached."""
    student = get_student(db=db, student_id=student_id)
    logins = list(db.execute(select(User.id, User.username).where(User.student_id == student_id)))
    work = list(db.scalars(select(WorkSessionRecord.id).where(WorkSessionRecord.student_id == student_id)))
    _forget(db, student_id, [u.id for u in logins], [u.username for u in logins])
    _forget_rows(db, Authorisation, "authorisation", student_id)
    _forget_rows(db, CompetenceValidation, "competence_validation", student_id)
    db.execute(delete(LoginSession).where(LoginSession.user_id.in_([u.id for u in logins])))
    db.execute(delete(User).where(User.student_id == student_id))
    db.execute(update(WorkSessionRecord).where(WorkSessionRecord.student_id == student_id).values(student_id=None))
    db.delete(student)
    db.flush()
    # The deletion itself is audited, without the id: it would link back to the sessions' audit entries.
    audit(db=db, who=who, action="delete", entity="student", entity_id=None, at=now, after=ERASED)
    logger.info("student deleted sessions_detached=%d", len(work))
    return len(work)


def _forget(db: Session, student_id: int, user_ids: list[int], usernames: list[str]) -> None:
    """Erase the student's id, logins and names from the audit log."""
    about = (AuditEntry.entity == "student") & (AuditEntry.entity_id == student_id)
    if user_ids:
        about = about | ((AuditEntry.entity == "user") & AuditEntry.entity_id.in_(user_ids))
    db.execute(update(AuditEntry).where(about).values(before=ERASED, after=ERASED, entity_id=None))
    if usernames:  # what the student's own login did (changing its password)
        db.execute(update(AuditEntry).where(AuditEntry.who.in_(usernames)).values(who="erased"))
    # Every session entry is read, not only those of the student's sessions: a session moved to another
    # student by a correction still names this one in its "before". JSON is not queried the same way on
    # SQLite and PostgreSQL, and a deletion is rare: reading is simpler than two dialects.
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "work_session").execution_options(yield_per=1000)
    )
    for entry in entries:
        before, after = _without_student(entry.before, student_id), _without_student(entry.after, student_id)
        if (before, after) != (entry.before, entry.after):
            entry.before, entry.after = before, after


def _forget_rows(db: Session, model: type[Authorisation | CompetenceValidation], entity: str, student_id: int) -> None:
    """The student's rows of ``model`` go, and their audit entries (which name the student) are erased."""
    ids = list(db.scalars(select(model.id).where(model.student_id == student_id)))
    if not ids:
        return
    about = (AuditEntry.entity == entity) & AuditEntry.entity_id.in_(ids)
    db.execute(update(AuditEntry).where(about).values(before=ERASED, after=ERASED, entity_id=None))
    db.execute(delete(model).where(model.id.in_(ids)))


def _without_student(values: dict[str, Any] | None, student_id: int) -> dict[str, Any] | None:
    if values is None or values.get("student_id") != student_id:
        return values
    return {**values, "student_id": None}


def purge_expired(*, db: Session, settings: RecordsSection, now: datetime) -> tuple[datetime | None, int]:
    """Apply ``records.retention_days``: (the cut-off, sessions purged); (None, 0) when logs are kept for ever."""
    before = settings.retention_cutoff(now)
    if before is None:
        return None, 0
    return before, purge_practice_logs(db=db, before=before, now=now)


def purge_practice_logs(*, db: Session, before: datetime, now: datetime) -> int:
    """Detach from their students the sessions that ended before ``before``; returns how many."""
    old = and_(
        WorkSessionRecord.ended.is_not(None),
        WorkSessionRecord.ended < before,
        WorkSessionRecord.student_id.is_not(None),
    )
    purged = _count(db, old)
    db.execute(update(WorkSessionRecord).where(old).values(student_id=None))
    # Session audit entries carry the student id; erase those of the purged period too.
    db.execute(
        update(AuditEntry)
        .where(AuditEntry.entity == "work_session", AuditEntry.at < before)
        .values(before=ERASED, after=ERASED)
    )
    if purged:
        audit(
            db=db,
            who="retention",
            action="purge",
            entity="work_session",
            entity_id=None,
            at=now,
            after={"before": before.isoformat(), "sessions": purged},
        )
    logger.info("retention purge before=%s sessions=%d", before.isoformat(), purged)
    return purged


def _count(db: Session, where: ColumnElement[bool]) -> int:
    return int(db.scalar(select(func.count()).select_from(WorkSessionRecord).where(where)) or 0)
