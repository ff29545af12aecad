"""Keyword-only functions over customers, orders and students, inside a caller's session.

Every manual change writes an audit entry (who, when, what, before and after)
in the same transaction. Functions check what the database would refuse
(unknown ids, duplicates) first, so that the caller gets a message that says
what is wrong instead of a constraint name; nothing is written when they raise.
Work sessions, scrap and assignments are in ``gateway.store.work_repo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.orm import Session

from gateway.records_errors import ConflictError, Named, NotFoundError
from gateway.store.models import Base, Machine
from gateway.store.records import (
    AuditEntry,
    Customer,
    LoginSession,
    Order,
    ScrapRecord,
    Student,
    User,
    WorkSessionRecord,
)

Row = TypeVar("Row", bound=Base)


# --- audit and generic helpers -----------------------------------------------


def snapshot(row: Base) -> dict[str, Any]:
    """The row's columns as JSON-ready values, for the audit log and exports."""
    values: dict[str, Any] = {}
    for column in inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def audit(
    *,
    session: Session,
    who: str,
    action: str,
    entity: str,
    entity_id: int | None,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(who=who, at=at, action=action, entity=entity, entity_id=entity_id, before=before, after=after)
    )


def get_row(*, session: Session, model: type[Row], row_id: int, label: str) -> Row:
    """The row, or NotFoundError with the code ``{label}_not_found`` (label ``work session``: ``work_session``)."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"{label.lower().replace(' ', '_')}_not_found", id=row_id)
    return row


def student_named(student: Student) -> Named:
    """A student as people see them (pages, PDF, CSV, messages): first name and initial, "Léa M."."""
    return Named(student.id, f"{student.first_name} {student.last_initial.rstrip('.')}.", personal=True)


def machine_named(machine: Machine) -> Named:
    return Named(machine_key(machine), machine.name)


def order_named(order: Order) -> Named:
    return Named(order.id, order.reference)


def _update(*, session: Session, who: str, row: Base, entity: str, changes: Mapping[str, Any], now: datetime) -> None:
    before = snapshot(row)
    for key, value in changes.items():
        setattr(row, key, value)
    session.flush()
    after = snapshot(row)
    audit(
        session=session,
        who=who,
        action="update",
        entity=entity,
        entity_id=before["id"],
        at=now,
        before=before,
        after=after,
    )


def _create(*, session: Session, who: str, row: Row, entity: str, now: datetime) -> Row:
    session.add(row)
    session.flush()
    audit(session=session, who=who, action="create", entity=entity, entity_id=_id(row), at=now, after=snapshot(row))
    return row


def _delete(*, session: Session, who: str, row: Base, entity: str, now: datetime) -> None:
    before = snapshot(row)
    session.delete(row)
    session.flush()
    audit(session=session, who=who, action="delete", entity=entity, entity_id=before["id"], at=now, before=before)


def _id(row: Base) -> int:
    value: int = inspect(row).identity[0]  # type: ignore[index]
    return value


# --- customers ---------------------------------------------------------------


def list_customers(*, session: Session) -> list[Customer]:
    return list(session.scalars(select(Customer).order_by(Customer.name)))


def _check_customer_name(session: Session, name: str, ignore: int | None = None) -> None:
    found = session.scalars(select(Customer).where(Customer.name == name)).first()
    if found is not None and found.id != ignore:
        raise ConflictError("customer_name_taken", name=name, customer_id=found.id)


def create_customer(*, session: Session, who: str, now: datetime, name: str, contact: str = "") -> Customer:
    _check_customer_name(session, name)
    return _create(
        session=session, who=who, row=Customer(name=name, contact=contact, created=now), entity="customer", now=now
    )


def update_customer(
    *, session: Session, who: str, now: datetime, customer_id: int, changes: Mapping[str, Any]
) -> Customer:
    customer = get_row(session=session, model=Customer, row_id=customer_id, label="customer")
    if "name" in changes:
        _check_customer_name(session, changes["name"], ignore=customer_id)
    _update(session=session, who=who, row=customer, entity="customer", changes=changes, now=now)
    return customer


def delete_customer(*, session: Session, who: str, now: datetime, customer_id: int) -> None:
    customer = get_row(session=session, model=Customer, row_id=customer_id, label="customer")
    orders = session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == customer_id)) or 0
    if orders:
        raise ConflictError("customer_has_orders", customer=Named(customer.id, customer.name), orders=orders)
    _delete(session=session, who=who, row=customer, entity="customer", now=now)


# --- orders ------------------------------------------------------------------


def list_orders(*, session: Session, status: str | None = None) -> list[Order]:
    stmt = select(Order).order_by(Order.id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return list(session.scalars(stmt))


def _check_order(session: Session, customer_id: int, reference: str, ignore: int | None = None) -> None:
    customer = get_row(session=session, model=Customer, row_id=customer_id, label="customer")
    stmt = select(Order).where(Order.customer_id == customer_id, Order.reference == reference)
    found = session.scalars(stmt).first()
    if found is not None and found.id != ignore:
        raise ConflictError(
            "order_reference_taken", customer=Named(customer.id, customer.name), reference=reference, order_id=found.id
        )


def create_order(*, session: Session, who: str, now: datetime, fields: Mapping[str, Any]) -> Order:
    _check_order(session, fields["customer_id"], fields["reference"])
    row = Order(**{"status": "open", "programs": [], **fields}, created=now)
    return _create(session=session, who=who, row=row, entity="order", now=now)


def update_order(*, session: Session, who: str, now: datetime, order_id: int, changes: Mapping[str, Any]) -> Order:
    order = get_row(session=session, model=Order, row_id=order_id, label="order")
    if "customer_id" in changes or "reference" in changes:
        customer_id = changes.get("customer_id", order.customer_id)
        _check_order(session, customer_id, changes.get("reference", order.reference), ignore=order_id)
    _update(session=session, who=who, row=order, entity="order", changes=changes, now=now)
    return order


def delete_order(*, session: Session, who: str, now: datetime, order_id: int) -> None:
    order = get_row(session=session, model=Order, row_id=order_id, label="order")
    used = session.scalar(
        select(func.count()).select_from(WorkSessionRecord).where(WorkSessionRecord.order_id == order_id)
    )
    scrapped = session.scalar(select(func.count()).select_from(ScrapRecord).where(ScrapRecord.order_id == order_id))
    if used or scrapped:
        raise ConflictError("order_has_work", order=order_named(order))
    _delete(session=session, who=who, row=order, entity="order", now=now)


# --- students ----------------------------------------------------------------


def list_students(*, session: Session, active: bool | None = None) -> list[Student]:
    stmt = select(Student).order_by(Student.class_name, Student.first_name, Student.id)
    if active is not None:
        stmt = stmt.where(Student.active == active)
    return list(session.scalars(stmt))


def _check_badge(session: Session, badge: str | None, ignore: int | None = None) -> None:
    if badge is None:
        return
    found = session.scalars(select(Student).where(Student.badge == badge)).first()
    if found is not None and found.id != ignore:
        raise ConflictError("badge_taken", badge=badge, student=student_named(found))


def create_student(*, session: Session, who: str, now: datetime, fields: Mapping[str, Any]) -> Student:
    _check_badge(session, fields.get("badge"))
    row = Student(**{"active": True, **fields}, created=now)
    return _create(session=session, who=who, row=row, entity="student", now=now)


def update_student(
    *, session: Session, who: str, now: datetime, student_id: int, changes: Mapping[str, Any]
) -> Student:
    student = get_row(session=session, model=Student, row_id=student_id, label="student")
    if "badge" in changes:
        _check_badge(session, changes["badge"], ignore=student_id)
    _update(session=session, who=who, row=student, entity="student", changes=changes, now=now)
    if not student.active:  # a disabled student is signed out everywhere and cannot log in again
        logins = select(User.id).where(User.student_id == student_id)
        session.execute(delete(LoginSession).where(LoginSession.user_id.in_(logins)))
    return student


def student_by_badge(*, session: Session, badge: str) -> Student:
    student = session.scalars(select(Student).where(Student.badge == badge)).first()
    if student is None:
        raise NotFoundError("badge_unknown", badge=badge)
    return student


# --- machines (rows written by ingest) ---------------------------------------


def find_machine(*, session: Session, name: str, site: str | None = None) -> Machine:
    stmt = select(Machine).where(Machine.name == name)
    if site is not None:
        stmt = stmt.where(Machine.site == site)
    found = list(session.scalars(stmt))
    if not found:
        raise NotFoundError("machine_unknown", machine=name, site=site)
    if len(found) > 1:
        raise ConflictError("machine_ambiguous", machine=name, sites=", ".join(sorted(m.site for m in found)))
    return found[0]


def machine_key(machine: Machine) -> str:
    """How the domain names a machine: unique across sites, readable in reports."""
    return f"{machine.site}/{machine.name}"
