"""``/api/orders``: customer orders and where each one stands (masters only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from gateway.store import operations_repo, orders_repo
from gateway.store.models import OperationRecord, Order
from gateway.store.progress_repo import progress_by_operation
from gateway.web.guards import Admin
from gateway.web.records_state import StateDep
from gateway.web.schemas import (
    MAX_ID,
    OperationProgress,
    OperationPublic,
    OrderCreate,
    OrderPublic,
    OrderStatus,
    OrderUpdate,
    ProgressPublic,
)

router = APIRouter(prefix="/api/orders", tags=["orders"])
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("")
def list_orders(
    who: Admin, state: StateDep, order_status: Annotated[OrderStatus | None, Query(alias="status")] = None
) -> list[OrderPublic]:
    with state.reading(who) as db:
        rows = orders_repo.list_orders(db=db, status=order_status)
        steps = operations_repo.operations_by_order(db=db, order_ids=[o.id for o in rows])
        return [order_public(o, steps.get(o.id, [])) for o in rows]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_order(body: OrderCreate, who: Admin, state: StateDep) -> OrderPublic:
    with state.transaction(who) as db:
        row = orders_repo.create_order(db=db, who=who.name, now=state.now(), fields=body.model_dump())
        return order_public(row, operations_repo.operations_of(db=db, order_id=row.id))


@router.get("/{order_id}")
def get_order(order_id: OrderId, who: Admin, state: StateDep) -> OrderPublic:
    with state.reading(who) as db:
        row = orders_repo.get_order(db=db, order_id=order_id)
        return order_public(row, operations_repo.operations_of(db=db, order_id=row.id))


@router.patch("/{order_id}")
def update_order(order_id: OrderId, body: OrderUpdate, who: Admin, state: StateDep) -> OrderPublic:
    with state.transaction(who) as db:
        row = orders_repo.update_order(db=db, who=who.name, now=state.now(), order_id=order_id, changes=body.changes())
        return order_public(row, operations_repo.operations_of(db=db, order_id=row.id))


@router.delete("/{order_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_order(order_id: OrderId, who: Admin, state: StateDep) -> Response:
    with state.transaction(who) as db:
        orders_repo.delete_order(db=db, who=who.name, now=state.now(), order_id=order_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{order_id}/progress")
def order_progress(order_id: OrderId, who: Admin, state: StateDep) -> ProgressPublic:
    """Good = made − scrap; remaining; projected finish at the pace of the last cycles; late or on time."""
    with state.reading(who) as db:
        found, tallies = progress_by_operation(db=db, order_id=order_id, now=state.now(), zone=state.settings.timezone)
        due = orders_repo.get_order(db=db, order_id=order_id).due
    return ProgressPublic(
        order_id=order_id,
        ordered=found.ordered,
        made=found.made,
        scrap=found.scrap,
        good=found.good,
        remaining=found.remaining,
        seconds_per_part=found.seconds_per_part,
        projected_finish=found.projected_finish,
        due=due,
        late=found.late,
        done=found.done,
        pending=found.pending,
        operations=[
            OperationProgress(
                operation_id=t.operation_id, number=t.number, made=t.made, good=t.good, scrap=t.scrap, pending=t.pending
            )
            for t in tallies
        ],
    )


def order_public(row: Order, operations: list[OperationRecord]) -> OrderPublic:
    return OrderPublic.model_validate(row).model_copy(
        update={"operations": [OperationPublic.model_validate(o) for o in operations]}
    )
