"""The audit log: every manual change, who made it, when, and the row before and after.

The entry is written in the same transaction as the change, so there is no
change without its entry and no entry for a change that rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from gateway.store.models import AuditEntry, Base
from gateway.store.rows import Row


def snapshot(row: Base) -> dict[str, Any]:
    """The row's columns as JSON-ready values, for the audit log and exports."""
    values: dict[str, Any] = {}
    for column in inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, date) else value  # datetimes too
    return values


def audit(
    *,
    db: Session,
    who: str,
    action: str,
    entity: str,
    entity_id: int | None,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    db.add(AuditEntry(who=who, at=at, action=action, entity=entity, entity_id=entity_id, before=before, after=after))


def audited_create(*, db: Session, who: str, row: Row, entity: str, now: datetime) -> Row:
    db.add(row)
    db.flush()
    audit(db=db, who=who, action="create", entity=entity, entity_id=_id(row), at=now, after=snapshot(row))
    return row


def audited_update(*, db: Session, who: str, row: Base, entity: str, changes: Mapping[str, Any], now: datetime) -> None:
    before = snapshot(row)
    for key, value in changes.items():
        setattr(row, key, value)
    db.flush()
    after = snapshot(row)
    audit(db=db, who=who, action="update", entity=entity, entity_id=before["id"], at=now, before=before, after=after)


def audited_delete(*, db: Session, who: str, row: Base, entity: str, now: datetime) -> None:
    before = snapshot(row)
    db.delete(row)
    db.flush()
    audit(db=db, who=who, action="delete", entity=entity, entity_id=before["id"], at=now, before=before)


def _id(row: Base) -> int:
    value: int = inspect(row).identity[0]  # type: ignore[index]
    return value
