"""The alarms ingest recorded (``alarms``: code, text, severity, raised and cleared), read for the history page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.domain.alarm_history import AlarmLine
from gateway.store.models import AlarmRecord, Machine

MAX_ALARMS = 5000  # a week of a dozen machines in trouble; a page never holds more


def alarm_lines(*, db: Session, start: datetime, end: datetime, machine_id: int | None = None) -> list[AlarmLine]:
    """Alarms raised before ``end`` and not cleared before ``start`` (so one raised on Sunday night that
    lasts into Monday counts in both weeks), by site, machine, then time."""
    stmt = (
        select(AlarmRecord, Machine.name, Machine.site)
        .join(Machine, Machine.id == AlarmRecord.machine_id)
        .where(AlarmRecord.ts < end, or_(AlarmRecord.cleared.is_(None), AlarmRecord.cleared > start))
        .order_by(Machine.site, Machine.name, AlarmRecord.ts, AlarmRecord.id)
        .limit(MAX_ALARMS)
    )
    if machine_id is not None:
        stmt = stmt.where(AlarmRecord.machine_id == machine_id)
    rows = db.execute(stmt).all()
    # A school's machines go by their name; on a network's gateway two schools may both have a "mill".
    several = len({site for _, _, site in rows}) > 1
    return [
        AlarmLine(
            machine=f"{site}/{name}" if several else name,
            code=a.code,
            text=a.message,
            severity=a.severity,
            start=a.ts,
            cleared=a.cleared,
        )
        for a, name, site in rows
    ]
