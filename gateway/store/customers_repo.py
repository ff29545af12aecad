"""The school's client companies. Every change is audited; a customer with orders cannot be deleted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, Named
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


def customer_ids(*, db: Session) -> dict[str, int]:
    """Customer name → id, for every customer (names are unique)."""
    return {name: customer_id for customer_id, name in customer_names(db=db).items()}


def _check_name(db: Session, name: str, ignore: int | None = None) -> None:
    found = db.scalars(select(Customer).where(Customer.name == name)).first()
    if found is not None and found.id != ignore:
        raise ConflictError("customer_name_taken", name=name, customer_id=found.id)


def create_customer(*, db: Session, who: str, now: datetime, name: str, contact: str = "") -> Customer:
    _check_name(db, name)
    return audited_create(
        db=db, who=who, row=Customer(name=name, contact=contact, created=now), entity="customer", now=now
    )


def update_customer(*, db: Session, who: str, now: datetime, customer_id: int, changes: Mapping[str, Any]) -> Customer:
    customer = get_customer(db=db, customer_id=customer_id)
    if "name" in changes:
        _check_name(db, changes["name"], ignore=customer_id)
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
