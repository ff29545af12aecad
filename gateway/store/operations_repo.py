"""An order's operations: listed, created, changed, deleted while unused; the one a check-in works on.

Every change is audited. An order created without operations gets operation 10
from its programs and standard cycle time (``orders_repo.create_order``), so that a
one-step order needs no routing and its check-ins no choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain.operations import OperationChoiceError, Step, choose
from gateway.errors import ConflictError, InvalidError, NotFoundError
from gateway.store.audit_log import audited_create, audited_delete, audited_update
from gateway.store.machines_repo import machine_named
from gateway.store.models import (
    FirstPartApproval,
    Machine,
    MachineGroup,
    MachineGroupMember,
    OperationRecord,
    Order,
    ScrapRecord,
    WorkSessionRecord,
)
from gateway.store.orders_repo import get_order, order_named
from gateway.store.rows import get_row


def operations_of(*, db: Session, order_id: int) -> list[OperationRecord]:
    stmt = select(OperationRecord).where(OperationRecord.order_id == order_id).order_by(OperationRecord.number)
    return list(db.scalars(stmt))


def operations_by_order(*, db: Session, order_ids: Iterable[int]) -> dict[int, list[OperationRecord]]:
    wanted = set(order_ids)
    found: dict[int, list[OperationRecord]] = {o: [] for o in wanted}
    if wanted:
        stmt = select(OperationRecord).where(OperationRecord.order_id.in_(wanted)).order_by(OperationRecord.number)
        for row in db.scalars(stmt):
            found[row.order_id].append(row)
    return found


def get_operation(*, db: Session, operation_id: int) -> OperationRecord:
    return get_row(db=db, model=OperationRecord, row_id=operation_id, label="operation")


def operation_of_order(*, db: Session, order_id: int, operation_id: int) -> OperationRecord:
    """The operation, which must be one of the order's: another order's does not exist under this one."""
    row = get_operation(db=db, operation_id=operation_id)
    if row.order_id != order_id:
        raise NotFoundError("operation_not_found", id=operation_id)
    return row


def steps(*, db: Session, rows: Iterable[OperationRecord]) -> list[Step]:
    """The operations as the domain's rules see them, each with its machine group's members."""
    rows = list(rows)
    groups = {r.group_id for r in rows if r.group_id is not None}
    members: dict[int, set[int]] = {g: set() for g in groups}
    if groups:
        stmt = select(MachineGroupMember.group_id, MachineGroupMember.machine_id).where(
            MachineGroupMember.group_id.in_(groups)
        )
        for group_id, machine_id in db.execute(stmt):
            members[group_id].add(machine_id)
    return [
        Step(
            id=r.id,
            number=r.number,
            programs=tuple(r.programs),
            group_machines=None if r.group_id is None else frozenset(members[r.group_id]),
            first_part=r.first_part,
        )
        for r in rows
    ]


def step_of(*, db: Session, row: OperationRecord) -> Step:
    return steps(db=db, rows=[row])[0]


def choose_operation(
    *, db: Session, order: Order, machine: Machine, operation_id: int | None, number: int | None
) -> OperationRecord | None:
    """The operation of ``order`` a session on ``machine`` works on (None: the order has none)."""
    rows = operations_of(db=db, order_id=order.id)
    try:
        chosen = choose(steps(db=db, rows=rows), machine.id, wanted_id=operation_id, wanted_number=number)
    except OperationChoiceError as err:
        params: dict[str, Any] = {"order": order_named(order)}
        if err.code == "operation_other_machine":
            raise ConflictError(
                err.code, number=err.params["number"], machine=machine_named(machine), **params
            ) from err
        if err.code == "operation_required":
            params["numbers"] = ", ".join(str(n) for n in err.params["numbers"])
        raise InvalidError(err.code, **params) from err
    return None if chosen is None else next(r for r in rows if r.id == chosen.id)


def _check_fields(db: Session, order: Order, fields: Mapping[str, Any], ignore: int | None = None) -> None:
    if fields.get("group_id") is not None:
        get_row(db=db, model=MachineGroup, row_id=fields["group_id"], label="machine group")
    if "number" in fields:
        stmt = select(OperationRecord.id).where(
            OperationRecord.order_id == order.id, OperationRecord.number == fields["number"]
        )
        found = db.scalar(stmt)
        if found is not None and found != ignore:
            raise ConflictError("operation_number_taken", order=order_named(order), number=fields["number"])


def create_operation(
    *, db: Session, who: str, now: datetime, order_id: int, fields: Mapping[str, Any]
) -> OperationRecord:
    order = get_order(db=db, order_id=order_id)
    _check_fields(db, order, fields)
    row = OperationRecord(**fields, order_id=order.id, created=now)
    return audited_create(db=db, who=who, row=row, entity="operation", now=now)


def update_operation(
    *, db: Session, who: str, now: datetime, operation_id: int, changes: Mapping[str, Any]
) -> OperationRecord:
    row = get_operation(db=db, operation_id=operation_id)
    _check_fields(db, db.get_one(Order, row.order_id), changes, ignore=row.id)
    audited_update(db=db, who=who, row=row, entity="operation", changes=changes, now=now)
    return row


def in_use(*, db: Session, operation_id: int) -> bool:
    for column in (WorkSessionRecord.operation_id, ScrapRecord.operation_id, FirstPartApproval.operation_id):
        if db.scalar(select(func.count()).where(column == operation_id)):
            return True
    return False


def delete_operation(*, db: Session, who: str, now: datetime, operation_id: int) -> None:
    row = get_operation(db=db, operation_id=operation_id)
    if in_use(db=db, operation_id=operation_id):
        order = db.get_one(Order, row.order_id)
        raise ConflictError("operation_in_use", order=order_named(order), number=row.number)
    audited_delete(db=db, who=who, row=row, entity="operation", now=now)
