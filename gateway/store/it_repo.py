"""What the desk's IT page reads: the agents with their last contact and machines, the latest dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.models import Agent, DeadLetter, Machine

PREVIEW_BYTES = 160  # of a dead letter's payload, shown as text: enough to recognise it, never the whole


@dataclass(frozen=True, slots=True)
class AgentRow:
    site: str
    name: str
    status: str
    version: str
    last_seen: datetime
    contiguous_seq: int | None
    machines: list[str]  # the machines it owns, by their id on the bus


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    received_at: datetime
    topic: str
    reason: str
    size: int
    sha256: str
    preview: str  # the payload's first bytes, undecodable ones replaced


def agents(*, db: Session) -> list[AgentRow]:
    owned: dict[int, list[str]] = {}
    for agent_id, name in db.execute(select(Machine.agent_id, Machine.name).order_by(Machine.name)):
        owned.setdefault(agent_id, []).append(name)
    rows = db.scalars(select(Agent).order_by(Agent.site, Agent.name))
    return [
        AgentRow(a.site, a.name, a.status, a.version, a.last_seen, a.contiguous_seq, owned.get(a.id, [])) for a in rows
    ]


def dead_letters(*, db: Session, limit: int = 50) -> tuple[int, list[DeadLetterRow]]:
    """How many dead letters are kept, and the latest ``limit`` of them."""
    total = int(db.scalar(select(func.count()).select_from(DeadLetter)) or 0)
    latest = db.scalars(select(DeadLetter).order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(limit))
    rows = [
        DeadLetterRow(
            d.received_at,
            d.topic,
            d.reason,
            d.payload_size,
            d.payload_sha256,
            bytes(d.payload[:PREVIEW_BYTES]).decode("utf-8", errors="replace"),
        )
        for d in latest
    ]
    return total, rows
