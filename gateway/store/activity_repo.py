"""What is happening on orders now, for the board and the orders CSV: the operations being worked and the first
parts waiting for a master's approval."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.first_part_repo import operation_steps, pending_sessions
from gateway.store.models import WorkSessionRecord
from gateway.store.session_rows import SessionRow, sessions_of_orders


@dataclass(frozen=True, slots=True)
class OrderActivity:
    in_progress: tuple[int, ...] = ()  # numbers of the operations a session is open on now, in order
    first_part_pending: bool = False  # a machine's current series of the order waits for a first-part approval


def order_activity(*, db: Session, order_ids: Iterable[int]) -> dict[int, OrderActivity]:
    """Order id → its activity (orders with none are left out).

    A first part is pending on an order when the latest session of the order on a machine is in a series
    still waiting for an OK: the order page's "waiting on" rule, so the board and the order page agree.
    Only the open sessions and the sessions of orders whose operations ask for a first part are read, not
    every session of years of orders (the orders CSV).
    """
    wanted = set(order_ids)
    if not wanted:
        return {}
    operations = operation_steps(db=db, order_ids=list(wanted))
    numbers = {s.id: s.number for steps in operations.values() for s in steps}
    open_numbers: dict[int, set[int]] = defaultdict(set)
    # The open sessions, at most one a machine: read them all rather than bind thousands of order ids.
    stmt = select(WorkSessionRecord.order_id, WorkSessionRecord.operation_id).where(WorkSessionRecord.ended.is_(None))
    for order_id, operation_id in db.execute(stmt):
        if order_id in wanted and operation_id in numbers:
            open_numbers[order_id].add(numbers[operation_id])
    asking = [o for o, steps in operations.items() if any(s.first_part for s in steps)]
    latest: dict[tuple[int, int], SessionRow] = {}
    for rows in sessions_of_orders(db=db, order_ids=asking).values():
        for row in rows:  # by start, then id: the last one on each machine stays
            latest[(row.order_id or 0, row.machine_id)] = row
    pending = pending_sessions(db=db, rows=list(latest.values()))
    waiting_on = {o for (o, _), r in latest.items() if pending.get(r.id, False)}
    found: dict[int, OrderActivity] = {}
    for order_id in sorted(wanted):
        working = sorted(open_numbers.get(order_id, ()))
        waiting = order_id in waiting_on
        if working or waiting:
            found[order_id] = OrderActivity(tuple(working), waiting)
    return found
