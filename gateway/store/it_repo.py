"""What the desk's IT page reads: the agents with their last contact and machines, the latest dead letters."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from edge_agent.contract import TOPIC_ROOT
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


def dead_letters(
    *, db: Session, limit: int = 50, sites: Collection[str] | None = None
) -> tuple[int, list[DeadLetterRow]]:
    """How many dead letters are kept, and the latest ``limit`` of them: of ``sites`` only (None: all).

    A dead letter has no site column: it belongs to the site its topic names, ``atelier/v1/{site}/...``, the
    tree a school's broker bridges. Matched on that prefix, not on a full parse of the topic: a letter is
    dead precisely because it may not parse (an unknown channel, a bad machine id), and the school whose tree
    it came down is the one whose agent needs fixing. A topic under no site's tree is in no site's list.
    """
    where = or_(false(), *(DeadLetter.topic.startswith(site_prefix(site), autoescape=True) for site in sites or ()))
    scoped = [where] if sites is not None else []
    total = int(db.scalar(select(func.count()).select_from(DeadLetter).where(*scoped)) or 0)
    latest = db.scalars(
        select(DeadLetter).where(*scoped).order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(limit)
    )
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


def site_prefix(site: str) -> str:
    """The start of every topic of ``site`` on the bus (the contract's root, then the site)."""
    return f"{TOPIC_ROOT}/{site}/"
