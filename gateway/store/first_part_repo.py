"""First-part approvals (``gateway.domain.first_part`` holds the rule) and each operation's counts.

A master's verdict is stored against the series it judges: the latest session of
the operation on the machine. A NOK also writes its scrap row in that session,
so the scrapped first part is the operation's scrap and never the good parts'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain import first_part
from gateway.domain.operations import Counted, Step, StepTally, tally
from gateway.errors import ConflictError, InvalidError
from gateway.store.attribution_repo import id_filters
from gateway.store.audit_log import audit, snapshot
from gateway.store.machines_repo import machine_named
from gateway.store.models import FirstPartApproval, Machine, OperationRecord, ScrapRecord, WorkSessionRecord
from gateway.store.operations_repo import get_operation
from gateway.store.rows import chunks
from gateway.store.session_rows import Worked, sessions_of_orders
from gateway.store.work_repo import lock


class Placed(Protocol):
    """A work session as ``pending_sessions`` takes it: an ORM row or a ``SessionRow``."""

    @property
    def id(self) -> int: ...
    @property
    def machine_id(self) -> int: ...
    @property
    def started(self) -> datetime: ...


def _starts_around(db: Session, rows: Iterable[Placed]) -> list[first_part.Start]:
    """The sessions of ``rows`` and, on each of their machines, every session in between and the one before:
    what ``first_part.series`` walks back through. Four columns, not ORM rows (the orders CSV's are thousands)."""
    spans: dict[int, tuple[datetime, datetime]] = {}
    for row in rows:
        lo, hi = spans.get(row.machine_id, (row.started, row.started))
        spans[row.machine_id] = (min(lo, row.started), max(hi, row.started))
    columns = (
        WorkSessionRecord.id,
        WorkSessionRecord.machine_id,
        WorkSessionRecord.operation_id,
        WorkSessionRecord.started,
    )
    found: dict[int, first_part.Start] = {}
    for machine_id, (lo, hi) in spans.items():
        on = select(*columns).where(WorkSessionRecord.machine_id == machine_id)
        before = db.execute(
            on.where(WorkSessionRecord.started < lo)
            .order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
            .limit(1)
        ).all()
        between = db.execute(on.where(WorkSessionRecord.started >= lo, WorkSessionRecord.started <= hi)).all()
        for session_id, machine, operation_id, started in [*before, *between]:
            found[session_id] = first_part.Start(session_id, machine, operation_id, started)
    return list(found.values())


def pending_sessions(*, db: Session, rows: Sequence[Placed]) -> dict[int, bool]:
    """Session id → whether its parts wait for a first-part approval (see ``gateway.domain.first_part``)."""
    if not rows:
        return {}
    starts = _starts_around(db, rows)
    opened = first_part.series(starts)
    operation_ids = sorted({s.operation_id for s in starts if s.operation_id is not None})
    asks: dict[int, bool] = {}
    for chunk in chunks(operation_ids):
        stmt = select(OperationRecord.id, OperationRecord.first_part).where(OperationRecord.id.in_(chunk))
        asks.update((i, bool(f)) for i, f in db.execute(stmt))
    needs = {s.session_id: s.operation_id is not None and asks.get(s.operation_id, False) for s in starts}
    verdicts = [
        first_part.Verdict(session_id, verdict == "OK")
        for chunk in chunks(sorted(opened))
        for session_id, verdict in db.execute(
            select(FirstPartApproval.session_id, FirstPartApproval.verdict).where(
                FirstPartApproval.session_id.in_(chunk)
            )
        )
        if session_id is not None
    ]
    wanted = {r.id for r in rows}
    return {sid: waits for sid, waits in first_part.pending(opened, needs, verdicts).items() if sid in wanted}


def order_tallies(*, db: Session, worked: Mapping[int, Sequence[Worked]]) -> dict[int, list[StepTally]]:
    """Order id → each of its operations with its own made, good, scrap and pending parts (empty: none), for
    the orders of ``worked`` (their sessions with their parts: ``reports_repo.session_parts``) at once: their
    operations, scrap and first-part series in a few reads."""
    operations = operation_steps(db=db, order_ids=list(worked))
    scrapped = _scrap(db, [o for o, steps in operations.items() if steps])
    # Most orders ask for no approval (one-step orders, migrated ones): no series to look for.
    asking = [o for o, steps in operations.items() if any(s.first_part for s in steps)]
    placed = [r for rows in sessions_of_orders(db=db, order_ids=asking).values() for r in rows]
    waiting = pending_sessions(db=db, rows=placed)
    found: dict[int, list[StepTally]] = {}
    for order_id, rows in worked.items():
        steps = operations.get(order_id, [])
        if not steps:
            found[order_id] = []
            continue
        made = [Counted(r.operation_id, r.id, r.parts) for r in rows]
        last = max(steps, key=lambda s: s.number)
        # Scrap declared outside any operation (found at final inspection) is the last operation's.
        scrap = [Counted(op or last.id, session, quantity) for op, session, quantity in scrapped.get(order_id, [])]
        found[order_id] = tally(steps, made, scrap, waiting)
    return found


def operation_steps(*, db: Session, order_ids: Sequence[int]) -> dict[int, list[Step]]:
    """Order id → its operations as ``tally`` counts them (id, number, whether a first part is asked): columns,
    not ORM rows, for thousands of orders."""
    found: dict[int, list[Step]] = {}
    wanted = set(order_ids)
    columns = (OperationRecord.order_id, OperationRecord.id, OperationRecord.number, OperationRecord.first_part)
    for where in id_filters(OperationRecord.order_id, wanted):
        for order_id, operation_id, number, asks in db.execute(select(*columns).where(where)):
            if order_id in wanted:
                found.setdefault(order_id, []).append(Step(id=operation_id, number=number, first_part=bool(asks)))
    return found


def _scrap(db: Session, order_ids: list[int]) -> dict[int, list[tuple[int | None, int | None, int]]]:
    """Order id → its scrap summed per (operation, session): what ``tally`` needs of it, grouped in the store."""
    found: dict[int, list[tuple[int | None, int | None, int]]] = {}
    wanted = set(order_ids)
    for where in id_filters(ScrapRecord.order_id, wanted):
        stmt = (
            select(
                ScrapRecord.order_id, ScrapRecord.operation_id, ScrapRecord.session_id, func.sum(ScrapRecord.quantity)
            )
            .where(where)
            .group_by(ScrapRecord.order_id, ScrapRecord.operation_id, ScrapRecord.session_id)
        )
        for order_id, operation_id, session_id, quantity in db.execute(stmt):
            if order_id in wanted:
                found.setdefault(order_id, []).append((operation_id, session_id, int(quantity or 0)))
    return found


# --- approvals ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Judged:
    verdict: str  # OK or NOK
    measured: str
    note: str
    cycle_id: int | None = None


def approve(
    *, db: Session, who: str, now: datetime, operation_id: int, machine: Machine, judged: Judged
) -> FirstPartApproval:
    """Record a master's verdict on the first part of the operation's series on the machine."""
    lock(db, Machine, machine.id)
    operation = get_operation(db=db, operation_id=operation_id)
    if judged.verdict == "NOK" and not judged.note.strip():
        raise InvalidError("nok_needs_note")
    session = db.scalars(
        select(WorkSessionRecord)
        .where(
            WorkSessionRecord.machine_id == machine.id,
            WorkSessionRecord.operation_id == operation.id,
            WorkSessionRecord.started <= now,
        )
        .order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
        .limit(1)
    ).first()
    if session is None:
        raise ConflictError("no_series", number=operation.number, machine=machine_named(machine))
    scrap_id = None
    if judged.verdict == "NOK":
        scrap = ScrapRecord(
            order_id=operation.order_id,
            quantity=1,
            reason=first_part.nok_reason(judged.note)[:200],
            inspected_by=who,
            ts=now,
            session_id=session.id,
            machine_id=machine.id,
            declared_by=who,
            operation_id=operation.id,
        )
        db.add(scrap)
        db.flush()
        audit(db=db, who=who, action="create", entity="scrap", entity_id=scrap.id, at=now, after=snapshot(scrap))
        scrap_id = scrap.id
    row = FirstPartApproval(
        operation_id=operation.id,
        machine_id=machine.id,
        session_id=session.id,
        verdict=judged.verdict,
        measured=judged.measured,
        note=judged.note,
        by=who,
        at=now,
        cycle_id=judged.cycle_id,
        scrap_id=scrap_id,
    )
    db.add(row)
    db.flush()
    audit(db=db, who=who, action="create", entity="first_part", entity_id=row.id, at=now, after=snapshot(row))
    return row


def approvals_of_order(*, db: Session, order_id: int) -> list[FirstPartApproval]:
    stmt = (
        select(FirstPartApproval)
        .join(OperationRecord, OperationRecord.id == FirstPartApproval.operation_id)
        .where(OperationRecord.order_id == order_id)
        .order_by(FirstPartApproval.at, FirstPartApproval.id)
    )
    return list(db.scalars(stmt))


def approvals_of_sessions(*, db: Session, session_ids: Iterable[int]) -> list[FirstPartApproval]:
    """The approvals given in these sessions (a student's log), in time order."""
    wanted = sorted(set(session_ids))
    found: list[FirstPartApproval] = []
    for chunk in chunks(wanted):
        found.extend(db.scalars(select(FirstPartApproval).where(FirstPartApproval.session_id.in_(chunk))))
    return sorted(found, key=lambda a: (a.at, a.id))
