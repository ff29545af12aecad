"""What is happening on orders now, for the board and the orders CSV: the operations being worked and the first
parts waiting for a master's approval."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.first_part_repo import pending_sessions
from gateway.store.models import OperationRecord, WorkSessionRecord


@dataclass(frozen=True, slots=True)
class OrderActivity:
    in_progress: tuple[int, ...] = ()  # numbers of the operations a session is open on now, in order
    first_part_pending: bool = False  # a machine's current series of the order waits for a first-part approval


def order_activity(*, db: Session, order_ids: Iterable[int]) -> dict[int, OrderActivity]:
    """Order id → its activity (orders with none are left out).

    A first part is pending on an order when the latest session of the order on a machine is in a series
    still waiting for an OK: the order page's "waiting on" rule, so the board and the order page agree.
    """
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.order_id.in_(wanted))))
    if not rows:
        return {}
    stmt = select(OperationRecord.id, OperationRecord.number).where(OperationRecord.order_id.in_(wanted))
    numbers: dict[int, int] = {row[0]: row[1] for row in db.execute(stmt)}
    pending = pending_sessions(db=db, rows=rows)
    latest: dict[tuple[int, int], WorkSessionRecord] = {}
    for row in sorted(rows, key=lambda r: (r.started, r.id)):
        assert row.order_id is not None
        latest[(row.order_id, row.machine_id)] = row
    # Grouped once: each order walking every row was quadratic (1,408 orders × 5,673 sessions at 1 year).
    open_numbers: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        if r.ended is None and r.operation_id in numbers:
            open_numbers[r.order_id or 0].add(numbers[r.operation_id])
    waiting_on = {o for (o, _), r in latest.items() if pending.get(r.id, False)}
    found: dict[int, OrderActivity] = {}
    for order_id in wanted:
        working = sorted(open_numbers.get(order_id, ()))
        waiting = order_id in waiting_on
        if working or waiting:
            found[order_id] = OrderActivity(tuple(working), waiting)
    return found
