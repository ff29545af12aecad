"""Tables ingest writes: what agents and machines said on the bus, and the messages it refused.

Machines and agents are keyed by an integer, with their bus id unique per site:
two schools of a network may both have a ``dmg-mill-1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base, Int64

ID_LENGTH = 63


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(ID_LENGTH))  # the agent id on the bus
    status: Mapped[str] = mapped_column(String(16))  # online or offline
    version: Mapped[str] = mapped_column(String(64), default="")
    last_seen: Mapped[datetime]
    contiguous_seq: Mapped[int | None] = mapped_column(Int64)  # highest seq received with no gap below it
    # The machines its latest online status announced: a machine is created only for the agent announcing it.
    announced: Mapped[list[str] | None] = mapped_column(JSON)


class Machine(Base):
    __tablename__ = "machines"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(ID_LENGTH))  # the machine id on the bus
    # The owner: the agent that announced it and published for it first, until an admin moves it.
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    last_state: Mapped[dict[str, Any] | None]  # the latest MachineState snapshot, as JSON
    last_state_seq: Mapped[int | None] = mapped_column(Int64)
    last_state_ts: Mapped[datetime | None]
    part_counter: Mapped[int | None] = mapped_column(Int64)  # the control's own part counter


class Message(Base):
    """One row per sequenced message received: the dedupe key (agent, seq)."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("agent_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    seq: Mapped[int] = mapped_column(Int64)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    type: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]


class StateChange(Base):
    __tablename__ = "state_changes"
    __table_args__ = (Index("ix_state_changes_machine_ts", "machine_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    ts: Mapped[datetime]
    availability: Mapped[str] = mapped_column(String(16))
    execution: Mapped[str | None] = mapped_column(String(32))
    mode: Mapped[str | None] = mapped_column(String(32))


class Cycle(Base):
    __tablename__ = "cycles"
    __table_args__ = (Index("ix_cycles_machine_ended", "machine_id", "ended"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    seq: Mapped[int] = mapped_column(Int64)
    program: Mapped[str | None] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(32))
    started: Mapped[datetime]
    ended: Mapped[datetime]
    duration_s: Mapped[float] = mapped_column(Float)
    held_s: Mapped[float] = mapped_column(Float)
    parts: Mapped[int] = mapped_column(Int64)
    outcome: Mapped[str] = mapped_column(String(16))


class PartCount(Base):
    __tablename__ = "part_counts"
    __table_args__ = (Index("ix_part_counts_machine_ts", "machine_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    seq: Mapped[int] = mapped_column(Int64)
    ts: Mapped[datetime]
    count: Mapped[int] = mapped_column(Int64)
    counter: Mapped[int | None] = mapped_column(Int64)
    program: Mapped[str | None] = mapped_column(String(256))


class AlarmRecord(Base):
    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_machine_cleared", "machine_id", "cleared"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    ts: Mapped[datetime]
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(512))
    severity: Mapped[str] = mapped_column(String(16))
    cleared: Mapped[datetime | None]


class DeadLetter(Base):
    """A message refused, with why. Bounded: the first few KiB of the payload, its full size and SHA-256."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the first ``DEAD_LETTER_PREFIX_BYTES`` only
    payload_size: Mapped[int] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
