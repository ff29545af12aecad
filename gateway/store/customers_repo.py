"""The school's client companies, per site (names unique within one). Audited; one with orders stays."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, Named
from gateway.store import sites_repo
from gateway.store.audit_log import audited_create, audited_delete, audited_update
from gateway.store.models import Customer, Order
from gateway.store.rows import get_row


def list_customers(*, db: Session) -> list[Customer]:
    return list(db.scalars(select(Customer).order_by(Customer.name)))


def get_customer(*, db: Session, customer_id: int) -> Customer:
    return get_row(db=db, model=Customer, row_id=customer_id, label="customer")


def customer_names(*, db: Session) -> dict[int, str]:
    """Customer id → name, for every customer."""
    return dict(db.execute(select(Customer.id, Customer.name)).all())


def customer_ids(*, db: Session, site: str) -> dict[str, int]:
    """Customer name → id, for every customer of ``site`` (names are unique within a site)."""
    return dict(db.execute(select(Customer.name, Customer.id).where(Customer.site == site)).all())


def _check_name(db: Session, site: str, name: str, ignore: int | None = None) -> None:
    found = db.scalars(select(Customer).where(Customer.site == site, Customer.name == name)).first()
    if found is not None and found.id != ignore:
        raise ConflictError("customer_name_taken", name=name, customer_id=found.id)


def create_customer(
    *, db: Session, who: str, now: datetime, name: str, contact: str = "", site: str | None = None
) -> Customer:
    """``site``: a master's (``sites_repo.site_for_new``); None, the store's home site (a seed, the command line)."""
    site = sites_repo.home_site(db=db, asked=site)
    _check_name(db, site, name)
    row = Customer(site=site, name=name, contact=contact, created=now)
    return audited_create(db=db, who=who, row=row, entity="customer", now=now)


def update_customer(*, db: Session, who: str, now: datetime, customer_id: int, changes: Mapping[str, Any]) -> Customer:
    customer = get_customer(db=db, customer_id=customer_id)
    if "name" in changes:
        _check_name(db, customer.site, changes["name"], ignore=customer_id)
    audited_update(db=db, who=who, row=customer, entity="customer", changes=changes, now=now)
    return customer


def delete_customer(*, db: Session, who: str, now: datetime, customer_id: int) -> None:
    customer = get_customer(db=db, customer_id=customer_id)
    orders = db.scalar(select(func.count()).select_from(Order).where(Order.customer_id == customer_id)) or 0
    if orders:
        raise ConflictError("customer_has_orders", customer=Named(customer.id, customer.name), orders=orders)
    audited_delete(db=db, who=who, row=customer, entity="customer", now=now)


def order_counts(*, db: Session) -> dict[int, int]:
    """Customer id → how many orders it has (customers without any are left out)."""
    stmt = select(Order.customer_id, func.count()).group_by(Order.customer_id)
    return dict(db.execute(stmt).all())
