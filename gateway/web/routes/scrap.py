"""``/api/scrap``: declarations of scrapped parts, at a kiosk or by a master."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from gateway.store import work_repo
from gateway.web.guards import Admin, AtMachine, machine_for
from gateway.web.records_state import StateDep
from gateway.web.schemas import Id, ScrapCreate, ScrapPublic

router = APIRouter(prefix="/api/scrap", tags=["scrap"])


@router.post("", status_code=status.HTTP_201_CREATED, responses={200: {"description": "the same declaration"}})
def declare_scrap(body: ScrapCreate, who: AtMachine, state: StateDep, response: Response) -> ScrapPublic:
    """A kiosk declares at its machine; a master may name a machine or none. Sent again with the same
    ``idempotency_key`` (a double click), it answers 200 with the first declaration and writes nothing."""
    now = state.now()
    with state.transaction(who) as db:
        machine = None
        if body.machine is not None or who.role == "kiosk":
            machine = machine_for(db, who, body.machine, body.site)
        row, created = work_repo.declare_scrap(
            db=db,
            who=who.name,
            order_id=body.order_id,
            quantity=body.quantity,
            reason=body.reason,
            inspected_by=body.inspected_by,
            ts=body.ts or now,
            machine=machine,
            now=now,
            key=body.idempotency_key,
            operation_id=body.operation_id,
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return ScrapPublic.model_validate(row)


@router.get("")
def list_scrap(who: Admin, state: StateDep, order_id: Annotated[Id | None, Query()] = None) -> list[ScrapPublic]:
    with state.reading(who) as db:
        return [ScrapPublic.model_validate(r) for r in work_repo.scrap_of(db=db, order_id=order_id)]
