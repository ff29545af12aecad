"""An order's operations (``/api/orders/{id}/operations``) and first-part approvals (``/api/operations/{id}``).

Operations are for masters; one may be deleted while no session, scrap or
approval uses it. A first part is approved by a master: logged in, or at a
kiosk with the master's badge in the body (a student's badge is refused: 403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from gateway.errors import ForbiddenError, InvalidError, NotFoundError
from gateway.store import badges_repo, first_part_repo, operations_repo, orders_repo, students_repo
from gateway.store.db import Db
from gateway.web.guards import Admin, AtMachine, machine_for
from gateway.web.records_state import StateDep
from gateway.web.schemas import (
    MAX_ID,
    FirstPartCreate,
    FirstPartPublic,
    OperationCreate,
    OperationPublic,
    OperationUpdate,
)

router = APIRouter(prefix="/api/orders", tags=["orders"])
approvals_router = APIRouter(prefix="/api/operations", tags=["orders"])
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]
OperationId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/{order_id}/operations")
def list_operations(order_id: OrderId, who: Admin, state: StateDep) -> list[OperationPublic]:
    with state.reading(who) as db:
        orders_repo.get_order(db=db, order_id=order_id)
        return [OperationPublic.model_validate(o) for o in operations_repo.operations_of(db=db, order_id=order_id)]


@router.post("/{order_id}/operations", status_code=status.HTTP_201_CREATED)
def create_operation(order_id: OrderId, body: OperationCreate, who: Admin, state: StateDep) -> OperationPublic:
    with state.transaction(who) as db:
        row = operations_repo.create_operation(
            db=db, who=who.name, now=state.now(), order_id=order_id, fields=body.model_dump()
        )
        return OperationPublic.model_validate(row)


@router.patch("/{order_id}/operations/{operation_id}")
def update_operation(
    order_id: OrderId, operation_id: OperationId, body: OperationUpdate, who: Admin, state: StateDep
) -> OperationPublic:
    with state.transaction(who) as db:
        operations_repo.operation_of_order(db=db, order_id=order_id, operation_id=operation_id)
        row = operations_repo.update_operation(
            db=db, who=who.name, now=state.now(), operation_id=operation_id, changes=body.changes()
        )
        return OperationPublic.model_validate(row)


@router.delete("/{order_id}/operations/{operation_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_operation(order_id: OrderId, operation_id: OperationId, who: Admin, state: StateDep) -> Response:
    with state.transaction(who) as db:
        operations_repo.operation_of_order(db=db, order_id=order_id, operation_id=operation_id)
        operations_repo.delete_operation(db=db, who=who.name, now=state.now(), operation_id=operation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{order_id}/first-parts")
def list_first_parts(order_id: OrderId, who: Admin, state: StateDep) -> list[FirstPartPublic]:
    with state.reading(who) as db:
        orders_repo.get_order(db=db, order_id=order_id)
        return [FirstPartPublic.model_validate(a) for a in first_part_repo.approvals_of_order(db=db, order_id=order_id)]


def approver(db: Db, role: str, name: str, badge: str | None) -> str:
    """Who approves: a logged-in master, or at a kiosk the master whose badge was scanned."""
    if role == "admin":
        return name
    if badge is None:
        raise InvalidError("badge_required")
    master = badges_repo.master_with_badge(db=db, badge=badge)
    if master is not None:
        return master.username
    if students_repo.student_with_badge(db=db, badge=badge) is not None:
        raise ForbiddenError("master_badge_required")
    raise NotFoundError("badge_unknown", badge=badge)


@approvals_router.post("/{operation_id}/first-part", status_code=status.HTTP_201_CREATED)
def approve_first_part(
    operation_id: OperationId, body: FirstPartCreate, who: AtMachine, state: StateDep
) -> FirstPartPublic:
    """OK or NOK on the first part of the operation's series on the machine; a NOK also declares it scrap."""
    with state.transaction(who) as db:
        machine = machine_for(db, who, body.machine, body.site)
        by = approver(db, who.role, who.name, body.badge)
        judged = first_part_repo.Judged(body.verdict, body.measured, body.note, body.cycle_id)
        row = first_part_repo.approve(
            db=db, who=by, now=state.now(), operation_id=operation_id, machine=machine, judged=judged
        )
        return FirstPartPublic.model_validate(row)
