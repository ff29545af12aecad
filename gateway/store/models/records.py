"""Tables the records side writes: customers, orders, students, logins, work sessions, scrap, audit.

They share ``Base`` (its naming convention, ``UtcDateTime``) with the ingest
tables (``models.ingest``), whose cycles and part counts they are joined to.
Attribution of cycles and parts to work sessions is not stored: it is derived
at read time from the work sessions and the cycles' source times, so late
events need no re-processing. Only a master's manual assignment of a cycle is
stored (``cycle_assignments``).

Students are minors: a first name and a last-name initial for display, a class,
a track and a badge id, nothing more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base
from gateway.store.models.ingest import ID_LENGTH

NAME_LENGTH = 200
SHORT = 64


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("site", "name"),)  # two schools may both work for an "Acme"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    contact: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    created: Mapped[datetime]


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("customer_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)  # always its customer's
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    reference: Mapped[str] = mapped_column(String(SHORT))
    part_number: Mapped[str] = mapped_column(String(SHORT))
    drawing_revision: Mapped[str] = mapped_column(String(16), default="")
    quantity: Mapped[int]
    due: Mapped[datetime | None]
    standard_cycle_s: Mapped[float | None] = mapped_column(Float)
    programs: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime]


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    first_name: Mapped[str] = mapped_column(String(SHORT))
    last_initial: Mapped[str] = mapped_column(String(4))
    class_name: Mapped[str] = mapped_column(String(32))
    track: Mapped[str] = mapped_column(String(8))
    badge: Mapped[str | None] = mapped_column(String(SHORT), unique=True)  # unique everywhere: one person at a kiosk
    active: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]


class User(Base):
    """A login: a master (admin), a student (linked to the student), a viewer or the network's (network).

    ``site`` is the login's own site (a student's is their student's); a master or a viewer of several
    sites has the others in ``user_sites``. Usernames are unique everywhere: one login page, one namespace.
    """

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_badge", "badge", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    username: Mapped[str] = mapped_column(String(SHORT), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]
    # A master's badge: it approves first parts and ends sessions at a kiosk; never the same as a student's.
    badge: Mapped[str | None] = mapped_column(String(SHORT))


class UserSite(Base):
    """One more site a master or a viewer acts on, beyond the user's own ``site``."""

    __tablename__ = "user_sites"
    __table_args__ = (UniqueConstraint("user_id", "site"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH))


class LoginSession(Base):
    """A user's login (a signed-in browser or client): the cookie holds a random token, the table only its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(SHORT), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[datetime]
    expires: Mapped[datetime]


class ApiToken(Base):
    """A kiosk's or a status screen's token; only its hash is kept. It works until it expires or is revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)  # a kiosk's is its machine's
    token_hash: Mapped[str] = mapped_column(String(SHORT), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"))
    label: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created: Mapped[datetime]
    expires: Mapped[datetime]
    revoked: Mapped[datetime | None]


class WorkSessionRecord(Base):
    """A student checked in on a machine, for an order or for practice (no order).

    ``student_id`` is NULL once the student was deleted or the retention period
    passed: the session still owns its cycles, so the order's counts stay intact.
    """

    __tablename__ = "work_sessions"
    __table_args__ = (
        Index("ix_work_sessions_machine_started", "machine_id", "started"),
        # At most one open session per machine, also under concurrent check-ins.
        Index(
            "uq_work_sessions_open_machine",
            "machine_id",
            unique=True,
            sqlite_where=text("ended IS NULL"),
            postgresql_where=text("ended IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    started: Mapped[datetime]
    ended: Mapped[datetime | None]
    opened_by: Mapped[str] = mapped_column(String(SHORT))
    closed_by: Mapped[str | None] = mapped_column(String(SHORT))
    master_on_duty: Mapped[str | None] = mapped_column(String(SHORT))  # who supervised, at check-in
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"), index=True)


class ScrapRecord(Base):
    __tablename__ = "scrap"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_scrap_quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(NAME_LENGTH))
    inspected_by: Mapped[str] = mapped_column(String(SHORT))
    ts: Mapped[datetime]
    session_id: Mapped[int | None] = mapped_column(ForeignKey("work_sessions.id"), index=True)
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"))
    declared_by: Mapped[str] = mapped_column(String(SHORT))
    # Drawn by the kiosk once per declaration: the same key again is the same declaration (a double click).
    idempotency_key: Mapped[str | None] = mapped_column(String(SHORT), unique=True)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"), index=True)


class CycleAssignment(Base):
    """A master's manual assignment of a cycle to a session; it overrides the derived attribution."""

    __tablename__ = "cycle_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("work_sessions.id"), index=True)
    by: Mapped[str] = mapped_column(String(SHORT))
    at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    who: Mapped[str] = mapped_column(String(SHORT))
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
