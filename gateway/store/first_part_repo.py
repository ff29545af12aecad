"""First-part approvals (``gateway.domain.first_part`` holds the rule) and each operation's counts.

A master's verdict is stored against the series it judges: the latest session of
the operation on the machine. A NOK also writes its scrap row in that session,
so the scrapped first part is the operation's scrap and never the good parts'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain import first_part
from gateway.domain.operations import Counted, StepTally, tally
from gateway.errors import ConflictError, InvalidError
from gateway.store.attribution_repo import AttributedPart, chunks
from gateway.store.audit_log import audit, snapshot
from gateway.store.machines_repo import machine_named
from gateway.store.models import FirstPartApproval, Machine, OperationRecord, ScrapRecord, WorkSessionRecord
from gateway.store.operations_repo import get_operation, operations_of, steps
from gateway.store.work_repo import lock


def _starts_around(db: Session, rows: Iterable[WorkSessionRecord]) -> list[first_part.Start]:
    """The sessions of ``rows`` and, on each of their machines, every session in between and the one before."""
    spans: dict[int, tuple[datetime, datetime]] = {}
    for row in rows:
        lo, hi = spans.get(row.machine_id, (row.started, row.started))
        spans[row.machine_id] = (min(lo, row.started), max(hi, row.started))
    found: dict[int, first_part.Start] = {}
    for machine_id, (lo, hi) in spans.items():
        on = select(WorkSessionRecord).where(WorkSessionRecord.machine_id == machine_id)
        before = db.scalars(
            on.where(WorkSessionRecord.started < lo)
            .order_by(WorkSessionRecord.started.desc(), WorkSessionRecord.id.desc())
            .limit(1)
        ).first()
        between = db.scalars(on.where(WorkSessionRecord.started >= lo, WorkSessionRecord.started <= hi))
        for r in [*([before] if before is not None else []), *between]:
            found[r.id] = first_part.Start(r.id, r.machine_id, r.operation_id, r.started)
    return list(found.values())


def pending_sessions(*, db: Session, rows: list[WorkSessionRecord]) -> dict[int, bool]:
    """Session id → whether its parts wait for a first-part approval (see ``gateway.domain.first_part``)."""
    if not rows:
        return {}
    starts = _starts_around(db, rows)
    opened = first_part.series(starts)
    operation_ids = {s.operation_id for s in starts if s.operation_id is not None}
    asks: dict[int, bool] = {}
    if operation_ids:
        stmt = select(OperationRecord.id, OperationRecord.first_part).where(OperationRecord.id.in_(operation_ids))
        asks = {i: bool(f) for i, f in db.execute(stmt)}
    needs = {s.session_id: s.operation_id is not None and asks.get(s.operation_id, False) for s in starts}
    verdicts = [
        first_part.Verdict(session_id, verdict == "OK")
        for session_id, verdict in db.execute(
            select(FirstPartApproval.session_id, FirstPartApproval.verdict).where(
                FirstPartApproval.session_id.in_(list(opened))
            )
        )
        if session_id is not None
    ]
    wanted = {r.id for r in rows}
    return {sid: waits for sid, waits in first_part.pending(opened, needs, verdicts).items() if sid in wanted}


def operation_tallies(
    *, db: Session, order_id: int, rows: list[WorkSessionRecord], parts: Iterable[AttributedPart]
) -> list[StepTally]:
    """Each operation of the order with its own made, good, scrap and pending parts (empty: no operations)."""
    operations = operations_of(db=db, order_id=order_id)
    if not operations:
        return []
    by_session = {r.id: r for r in rows}
    made = [
        Counted(by_session[p.owner.id].operation_id, p.owner.id, p.row.count)
        for p in parts
        if p.owner is not None and p.owner.id in by_session
    ]
    last = max(operations, key=lambda o: o.number)
    scrapped = [
        # Scrap declared outside any operation (found at final inspection) is the last operation's.
        Counted(s.operation_id or last.id, s.session_id, s.quantity)
        for s in db.scalars(select(ScrapRecord).where(ScrapRecord.order_id == order_id))
    ]
    # Most orders ask for no approval (one-step orders, migrated ones): no series to look for.
    waiting = pending_sessions(db=db, rows=rows) if any(o.first_part for o in operations) else {}
    return tally(steps(db=db, rows=operations), made, scrapped, waiting)


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
