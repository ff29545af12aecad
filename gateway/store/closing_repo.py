"""Work sessions left open past closing time, ended by the site's calendar (``domain.closing_time``). Audited.

Run by the gateway's periodic task (at start, so that a gateway that was down closes
what it missed, then every few minutes) and on demand before a check-in or a
check-out, so that yesterday's forgotten session neither blocks today's check-in nor
is ended "now", days late. ``closed_by`` is ``"calendar"``; the audit entry holds the
row before and after, and a master's correction afterwards overrides it like any other. A
master who reopens a session (clears its end) is obeyed: the rule then counts from the
correction, so the session ends at the closing hour of the day it was reopened.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.domain.calendar import Calendar
from gateway.domain.closing_time import CLOSED_BY, closing_end
from gateway.store.audit_log import audit, snapshot
from gateway.store.calendar_repo import calendar_of, exceptions_of
from gateway.store.models import AuditEntry, Machine, WorkSessionRecord
from gateway.store.summaries_repo import mark_span

logger = logging.getLogger(__name__)

ACTION = "close_at_closing_time"


def close_overdue(
    *, db: Session, now: datetime, zone: str, machine_id: int | None = None, student_id: int | None = None
) -> list[WorkSessionRecord]:
    """End every open session whose closing time has passed (only those on ``machine_id`` or of ``student_id``
    when given, either matching); return the sessions ended."""
    stmt = select(WorkSessionRecord).where(WorkSessionRecord.ended.is_(None))
    narrow = [WorkSessionRecord.machine_id == machine_id] if machine_id is not None else []
    narrow += [WorkSessionRecord.student_id == student_id] if student_id is not None else []
    if narrow:
        stmt = stmt.where(or_(*narrow))
    calendars: dict[str, Calendar] = {}
    ended: list[WorkSessionRecord] = []
    for candidate in list(db.scalars(stmt.order_by(WorkSessionRecord.id))):
        machine = db.get_one(Machine, candidate.machine_id)
        if machine.site not in calendars:
            calendars[machine.site] = calendar_of(db=db, site=machine.site, zone=zone)
        since = max(candidate.started, _corrected_at(db, candidate.id) or candidate.started)
        end = closing_end(calendars[machine.site], since, now, exceptions_of(db=db, machine_id=machine.id))
        if end is None:
            continue
        # Lock the session's machine as a check-out does, then look again: a badge may have ended it meanwhile.
        db.execute(select(Machine.id).where(Machine.id == machine.id).with_for_update())
        db.refresh(candidate)
        if candidate.ended is not None:
            continue
        before = snapshot(candidate)
        candidate.ended, candidate.closed_by = end, CLOSED_BY
        db.flush()
        mark_span(db=db, now=now, machine_id=candidate.machine_id, start=candidate.started, end=None)
        after = snapshot(candidate)
        audit(
            db=db,
            who=CLOSED_BY,
            action=ACTION,
            entity="work_session",
            entity_id=candidate.id,
            at=now,
            before=before,
            after=after,
        )
        ended.append(candidate)
    if ended:
        logger.info("ended %d work sessions left open past closing time", len(ended))
    return ended


def _corrected_at(db: Session, session_id: int) -> datetime | None:
    """When a master last corrected the session (``audited_update``), if ever."""
    stmt = select(func.max(AuditEntry.at)).where(
        AuditEntry.entity == "work_session", AuditEntry.entity_id == session_id, AuditEntry.action == "update"
    )
    found: datetime | None = db.scalar(stmt)
    return found
