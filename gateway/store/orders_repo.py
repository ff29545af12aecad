"""Customer orders. Every change is audited; an order with work sessions or scrap cannot be deleted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, InvalidError, Named
from gateway.store.audit_log import audited_create, audited_delete, audited_update
from gateway.store.models import Customer, MachineGroup, OperationRecord, Order, ScrapRecord, WorkSessionRecord
from gateway.store.rows import get_row

ACTIVE = ("open", "in_progress")  # the orders a student may work on


def order_named(order: Order) -> Named:
    return Named(order.id, order.reference)


def list_orders(*, db: Session, status: str | None = None) -> list[Order]:
    stmt = select(Order).order_by(Order.id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return list(db.scalars(stmt))


class OrderLine(NamedTuple):
    """An order as the orders CSV lists it, read as columns: an ORM object per order (4,113 at three years)
    and the attribute reads on it cost a quarter of the export."""

    id: int
    customer_id: int
    reference: str
    part_number: str
    drawing_revision: str
    quantity: int
    due: datetime | None
    status: str


def order_lines(*, db: Session) -> list[OrderLine]:
    """Every order (of the sites ``db`` sees), by id."""
    stmt = select(*(getattr(Order, name) for name in OrderLine._fields)).order_by(Order.id)
    return [OrderLine(*row) for row in db.execute(stmt)]


def orders_by_due(*, db: Session, now: datetime, include_closed: bool = False) -> list[Order]:
    """The active orders (every order with ``include_closed``) by due date, undated last."""
    stmt = select(Order) if include_closed else select(Order).where(Order.status.in_(ACTIVE))
    # Filtered in the store: years of done orders (4,110 at three years) are not built to be left out.
    orders = list(db.scalars(stmt))
    orders.sort(key=lambda o: (o.due is None, o.due or now, o.id))
    return orders


def get_order(*, db: Session, order_id: int) -> Order:
    return get_row(db=db, model=Order, row_id=order_id, label="order")


def order_standards(*, db: Session, order_ids: Iterable[int]) -> dict[int, float | None]:
    """Order id → its standard cycle time in seconds (None when not set)."""
    wanted = set(order_ids)
    if not wanted:
        return {}
    return dict(db.execute(select(Order.id, Order.standard_cycle_s).where(Order.id.in_(wanted))).all())


def order_references(*, db: Session, order_ids: Iterable[int]) -> dict[int, str]:
    """Order id → its reference: people know an order by its reference, never its id."""
    wanted = set(order_ids)
    if not wanted:
        return {}
    return dict(db.execute(select(Order.id, Order.reference).where(Order.id.in_(wanted))).all())


def order_with_reference(*, db: Session, customer_id: int, reference: str) -> Order | None:
    """The customer's order ``reference`` (unique per customer), None when there is none."""
    stmt = select(Order).where(Order.customer_id == customer_id, Order.reference == reference)
    return db.scalars(stmt).first()


def _check_reference(db: Session, customer_id: int, reference: str, ignore: int | None = None) -> None:
    customer = get_row(db=db, model=Customer, row_id=customer_id, label="customer")
    found = order_with_reference(db=db, customer_id=customer_id, reference=reference)
    if found is not None and found.id != ignore:
        raise ConflictError(
            "order_reference_taken", customer=Named(customer.id, customer.name), reference=reference, order_id=found.id
        )


def create_order(*, db: Session, who: str, now: datetime, fields: Mapping[str, Any]) -> Order:
    """The order, with its ``operations`` (a list of operation fields) or else one operation 10.

    Operation 10 carries the order's programs and standard cycle time and asks for no first-part
    approval: a one-step order works as before operations existed (a master turns the approval on).
    """
    fields = dict(fields)
    steps = fields.pop("operations", None) or [
        {
            "number": 10,
            "programs": list(fields.get("programs") or []),
            "standard_cycle_s": fields.get("standard_cycle_s"),
            "first_part": False,
        }
    ]
    _check_reference(db, fields["customer_id"], fields["reference"])
    # An order belongs to its customer's site; a customer of another site is not there (404).
    customer = get_row(db=db, model=Customer, row_id=fields["customer_id"], label="customer")
    row = Order(**{"status": "open", "programs": [], **fields}, site=customer.site, created=now)
    audited_create(db=db, who=who, row=row, entity="order", now=now)
    numbers = [s["number"] for s in steps]
    if len(set(numbers)) != len(numbers):
        raise ConflictError("operation_number_taken", order=order_named(row), number=max(numbers, key=numbers.count))
    for step in steps:
        operation = OperationRecord(**step, order_id=row.id, created=now)
        if operation.group_id is not None:
            get_row(db=db, model=MachineGroup, row_id=operation.group_id, label="machine group")
        audited_create(db=db, who=who, row=operation, entity="operation", now=now)
    return row


def update_order(*, db: Session, who: str, now: datetime, order_id: int, changes: Mapping[str, Any]) -> Order:
    order = get_order(db=db, order_id=order_id)
    if "customer_id" in changes or "reference" in changes:
        customer_id = changes.get("customer_id", order.customer_id)
        _check_reference(db, customer_id, changes.get("reference", order.reference), ignore=order_id)
        if get_row(db=db, model=Customer, row_id=customer_id, label="customer").site != order.site:
            raise InvalidError("order_customer_other_site", site=order.site)
    audited_update(db=db, who=who, row=order, entity="order", changes=changes, now=now)
    return order


def delete_order(*, db: Session, who: str, now: datetime, order_id: int) -> None:
    order = get_order(db=db, order_id=order_id)
    used = db.scalar(select(func.count()).select_from(WorkSessionRecord).where(WorkSessionRecord.order_id == order_id))
    scrapped = db.scalar(select(func.count()).select_from(ScrapRecord).where(ScrapRecord.order_id == order_id))
    if used or scrapped:
        raise ConflictError("order_has_work", order=order_named(order))
    for operation in db.scalars(select(OperationRecord).where(OperationRecord.order_id == order_id)):
        audited_delete(db=db, who=who, row=operation, entity="operation", now=now)
    db.flush()
    audited_delete(db=db, who=who, row=order, entity="order", now=now)
