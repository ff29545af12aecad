"""Work sessions as plain columns, for reads over many orders (the board, the orders CSV): at three years of
history an ORM object per session (17,097) cost four times the read of the same columns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.attribution_repo import id_filters
from gateway.store.models import WorkSessionRecord
from gateway.store.rows import chunks


@dataclass(frozen=True, slots=True)
class SessionRow:
    """The columns of a work session that order figures read."""

    id: int
    machine_id: int
    order_id: int | None
    operation_id: int | None
    started: datetime
    ended: datetime | None


@dataclass(frozen=True, slots=True)
class Worked:
    """A work session of an order with the parts attribution gives it (``reports_repo.session_parts``)."""

    id: int
    order_id: int
    operation_id: int | None
    parts: int


_COLUMNS = (
    WorkSessionRecord.id,
    WorkSessionRecord.machine_id,
    WorkSessionRecord.order_id,
    WorkSessionRecord.operation_id,
    WorkSessionRecord.started,
    WorkSessionRecord.ended,
)


def sessions_of_orders(*, db: Session, order_ids: Iterable[int]) -> dict[int, list[SessionRow]]:
    """Order id → its work sessions (orders with none are left out), by start then id."""
    wanted = set(order_ids)
    found: dict[int, list[SessionRow]] = defaultdict(list)
    for where in id_filters(WorkSessionRecord.order_id, wanted):
        for row in db.execute(select(*_COLUMNS).where(where)):
            session = SessionRow(*row)
            if session.order_id in wanted:
                found[session.order_id].append(session)
    for rows in found.values():
        rows.sort(key=lambda r: (r.started, r.id))
    return dict(found)


def session_rows(*, db: Session, ids: Iterable[int]) -> list[WorkSessionRecord]:
    """The sessions ``ids`` as ORM rows, for what takes them (attribution): only the few a read must attribute."""
    found: list[WorkSessionRecord] = []
    for chunk in chunks(sorted(set(ids))):
        found.extend(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.id.in_(chunk))))
    return found
