"""Badges: a student's checks them in and out; a master's approves first parts and ends any session at a kiosk.

A badge opens one door only: the same badge is never a student's and a master's.
The check runs both ways, when a student is given a badge and when a master is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, InvalidError, Named
from gateway.store import sites_repo
from gateway.store.audit_log import audited_update
from gateway.store.models import Student, User
from gateway.store.rows import get_row


def master_with_badge(*, db: Session, badge: str) -> User | None:
    """The active master (role admin) whose badge it is, a master of the sites ``db`` sees; None otherwise."""
    stmt = select(User).where(User.badge == badge, User.role == "admin", User.active.is_(True))
    master = db.scalars(stmt.execution_options(**sites_repo.ALL_SITES)).first()  # their own site may be another
    seen = sites_repo.visible(db)
    if master is None or (seen is not None and not sites_repo.user_sites(db, master) & set(seen)):
        return None
    return master


def check_badge_free(
    *, db: Session, badge: str | None, student_id: int | None = None, user_id: int | None = None
) -> None:
    """``badge_taken`` when another student or any master holds it (``student_id``/``user_id``: its holder-to-be)."""
    if badge is None:
        return
    # A badge names one person at any kiosk of the network: it is looked for in every school, and a holder
    # of a school the caller does not see is not named.
    seen = sites_repo.visible(db)
    every = sites_repo.ALL_SITES
    student = db.scalars(select(Student).where(Student.badge == badge).execution_options(**every)).first()
    if student is not None and student.id != student_id:
        if seen is not None and student.site not in seen:
            raise ConflictError("badge_taken_elsewhere", badge=badge)
        label = f"{student.first_name} {student.last_initial.rstrip('.')}."  # as students_repo.student_named
        raise ConflictError("badge_taken", badge=badge, student=Named(student.id, label, personal=True))
    user = db.scalars(select(User).where(User.badge == badge).execution_options(**every)).first()
    if user is not None and user.id != user_id:
        if seen is not None and user.site not in seen:
            raise ConflictError("badge_taken_elsewhere", badge=badge)
        raise ConflictError("badge_taken", badge=badge, student=Named(user.id, user.username))


def set_master_badge(*, db: Session, who: str, now: datetime, user_id: int, badge: str | None) -> User:
    """Give a master a badge (None: take it back). Only a master's login carries one."""
    user = get_row(db=db, model=User, row_id=user_id, label="user")
    sites_repo.check_manageable(db, user)
    if user.role != "admin" and badge is not None:
        raise InvalidError("badge_master_only")
    check_badge_free(db=db, badge=badge, user_id=user.id)
    audited_update(db=db, who=who, row=user, entity="user", changes={"badge": badge}, now=now)
    return user
