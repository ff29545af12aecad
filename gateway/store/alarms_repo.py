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
    lasts into Monday counts in both weeks), by machine then time."""
    stmt = (
        select(AlarmRecord, Machine.name)
        .join(Machine, Machine.id == AlarmRecord.machine_id)
        .where(AlarmRecord.ts < end, or_(AlarmRecord.cleared.is_(None), AlarmRecord.cleared > start))
        .order_by(Machine.name, AlarmRecord.ts, AlarmRecord.id)
        .limit(MAX_ALARMS)
    )
    if machine_id is not None:
        stmt = stmt.where(AlarmRecord.machine_id == machine_id)
    return [
        AlarmLine(machine=name, code=a.code, text=a.message, severity=a.severity, start=a.ts, cleared=a.cleared)
        for a, name in db.execute(stmt).all()
    ]
