"""Tables of an order's routing: its operations (10, 20, ...) and the masters' first-part approvals.

An operation is one step of an order on one kind of machine (``group_id``: a
machine group; none: any machine), with the programs it runs and its standard
times. A first-part approval is a master's verdict on the first part of a
series of an operation on a machine (see ``gateway.domain.first_part`` for when a
new one is needed); a NOK also writes a scrap row, the approval keeps the link.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base
from gateway.store.models.records import NAME_LENGTH, SHORT


class OperationRecord(Base):
    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("order_id", "number"),
        CheckConstraint("number > 0", name="ck_operations_number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    number: Mapped[int]
    # Defaults on the Python side only (the migration sets none): what an operation created with only a
    # number is, whichever module creates it.
    label: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("machine_groups.id"), default=None)
    programs: Mapped[list[str]] = mapped_column(JSON, default=list)
    standard_cycle_s: Mapped[float | None] = mapped_column(Float, default=None)
    standard_setup_s: Mapped[float | None] = mapped_column(Float, default=None)
    # Whether a series of this operation waits for a master's first-part approval.
    first_part: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime]


class FirstPartApproval(Base):
    __tablename__ = "first_part_approvals"
    __table_args__ = (
        CheckConstraint("verdict IN ('OK', 'NOK')", name="ck_first_part_approvals_verdict"),
        Index("ix_first_part_approvals_operation_machine", "operation_id", "machine_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"))
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("work_sessions.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(3))
    measured: Mapped[str] = mapped_column(String(NAME_LENGTH))
    note: Mapped[str] = mapped_column(String(NAME_LENGTH))
    by: Mapped[str] = mapped_column(String(SHORT))
    at: Mapped[datetime]
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))  # the part approved, when known
    scrap_id: Mapped[int | None] = mapped_column(ForeignKey("scrap.id"))  # a NOK's scrap row
