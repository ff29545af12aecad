"""``/api/customers``: the school's client companies (masters only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from gateway.store import customers_repo, sites_repo
from gateway.web.guards import Admin
from gateway.web.records_state import StateDep
from gateway.web.schemas import MAX_ID, CustomerCreate, CustomerPublic, CustomerUpdate

router = APIRouter(prefix="/api/customers", tags=["customers"])
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("")
def list_customers(who: Admin, state: StateDep) -> list[CustomerPublic]:
    with state.reading(who) as db:
        return [CustomerPublic.model_validate(c) for c in customers_repo.list_customers(db=db)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_customer(body: CustomerCreate, who: Admin, state: StateDep) -> CustomerPublic:
    with state.transaction(who) as db:
        site = sites_repo.site_for_new(sites=who.sites, asked=body.site)
        row = customers_repo.create_customer(db=db, who=who.name, now=state.now(), **body.model_dump() | {"site": site})
        return CustomerPublic.model_validate(row)


@router.get("/{customer_id}")
def get_customer(customer_id: CustomerId, who: Admin, state: StateDep) -> CustomerPublic:
    with state.reading(who) as db:
        row = customers_repo.get_customer(db=db, customer_id=customer_id)
        return CustomerPublic.model_validate(row)


@router.patch("/{customer_id}")
def update_customer(customer_id: CustomerId, body: CustomerUpdate, who: Admin, state: StateDep) -> CustomerPublic:
    with state.transaction(who) as db:
        row = customers_repo.update_customer(
            db=db, who=who.name, now=state.now(), customer_id=customer_id, changes=body.changes()
        )
        return CustomerPublic.model_validate(row)


@router.delete("/{customer_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_customer(customer_id: CustomerId, who: Admin, state: StateDep) -> Response:
    with state.transaction(who) as db:
        customers_repo.delete_customer(db=db, who=who.name, now=state.now(), customer_id=customer_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
