"""Students: a first name and an initial for display, a class, a track, a badge. Every change is audited.

A student disabled is signed out everywhere at once (their logins' page logins end).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.errors import Named, NotFoundError
from gateway.store import sites_repo
from gateway.store.audit_log import audited_create, audited_update
from gateway.store.badges_repo import check_badge_free
from gateway.store.models import LoginSession, Student, User
from gateway.store.rows import get_row


def student_named(student: Student) -> Named:
    """A student as people see them (pages, PDF, CSV, messages): first name and initial, "Léa M."."""
    return Named(student.id, f"{student.first_name} {student.last_initial.rstrip('.')}.", personal=True)


def display_name(student: Student | None) -> str:
    """First name and initial, as pages show a student; a dash for nobody."""
    return "—" if student is None else student_named(student).label


def list_students(*, db: Session, active: bool | None = None) -> list[Student]:
    stmt = select(Student).order_by(Student.class_name, Student.first_name, Student.id)
    if active is not None:
        stmt = stmt.where(Student.active == active)
    return list(db.scalars(stmt))


def get_student(*, db: Session, student_id: int) -> Student:
    return get_row(db=db, model=Student, row_id=student_id, label="student")


def student_with_badge(*, db: Session, badge: str) -> Student | None:
    return db.scalars(select(Student).where(Student.badge == badge)).first()


def student_by_badge(*, db: Session, badge: str) -> Student:
    student = student_with_badge(db=db, badge=badge)
    if student is None:
        raise NotFoundError("badge_unknown", badge=badge)
    return student


def _check_badge(db: Session, badge: str | None, ignore: int | None = None) -> None:
    # Neither another student's nor a master's (badges_repo checks both ways).
    check_badge_free(db=db, badge=badge, student_id=ignore)


def create_student(*, db: Session, who: str, now: datetime, fields: Mapping[str, Any]) -> Student:
    """``fields["site"]``: a master's (``sites_repo.site_for_new``); left out, the store's home site."""
    _check_badge(db, fields.get("badge"))
    site = sites_repo.home_site(db=db, asked=fields.get("site"))
    row = Student(**{"active": True, **fields, "site": site}, created=now)
    return audited_create(db=db, who=who, row=row, entity="student", now=now)


def update_student(*, db: Session, who: str, now: datetime, student_id: int, changes: Mapping[str, Any]) -> Student:
    student = get_student(db=db, student_id=student_id)
    if "badge" in changes:
        _check_badge(db, changes["badge"], ignore=student_id)
    audited_update(db=db, who=who, row=student, entity="student", changes=changes, now=now)
    if not student.active:  # a disabled student is signed out everywhere and cannot log in again
        logins = select(User.id).where(User.student_id == student_id)
        db.execute(delete(LoginSession).where(LoginSession.user_id.in_(logins)))
    return student


def class_names(*, db: Session) -> list[str]:
    """Every class a student is in, for the desk's class filter."""
    return list(db.scalars(select(Student.class_name).distinct().order_by(Student.class_name)))


def search_students(*, db: Session, class_name: str | None = None, text: str | None = None) -> list[Student]:
    """Students of a class and/or whose first name or badge contains ``text`` (any case), as the desk lists them."""
    stmt = select(Student).order_by(Student.class_name, Student.first_name, Student.id)
    if class_name:
        stmt = stmt.where(Student.class_name == class_name)
    if text:
        # LIKE's own wildcards in what a master types are taken literally.
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        name = func.lower(Student.first_name).like(pattern, escape="\\")
        stmt = stmt.where(name | func.lower(Student.badge).like(pattern, escape="\\"))
    return list(db.scalars(stmt))
