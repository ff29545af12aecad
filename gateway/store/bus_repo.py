"""Keyword-only functions that read and write agents, machines and dead letters inside a caller's database session.

The rows of ingested messages are built by ``gateway.store.ingest_rows`` and written by
``gateway.store.bulk``; the caller owns the transaction (one per ingest batch).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.store.models import Agent, Cycle, DeadLetter, Machine, Message, PartCount, StateChange

VERSION_CHARS = 64  # agents.version


# --- agents and machines -----------------------------------------------------


def find_agent(*, db: Session, site: str, name: str) -> Agent | None:
    return db.scalars(select(Agent).where(Agent.site == site, Agent.name == name)).one_or_none()


def upsert_agent(
    *, db: Session, site: str, name: str, status: str, version: str, seen: datetime, announced: list[str] | None
) -> Agent:
    """Record an agent's status; ``announced`` (None: keep what was announced before) are the machines it serves."""
    version = version[:VERSION_CHARS]
    agent = find_agent(db=db, site=site, name=name)
    if agent is None:
        agent = Agent(
            site=site,
            name=name,
            status=status,
            version=version,
            last_seen=seen,
            contiguous_seq=None,
            announced=announced,
        )
        db.add(agent)
    else:
        agent.status = status
        agent.version = version or agent.version
        agent.last_seen = seen
        if announced is not None:
            agent.announced = announced
    db.flush()
    return agent


def machines_of_agent(*, db: Session, agent_id: int) -> list[Machine]:
    return list(db.scalars(select(Machine).where(Machine.agent_id == agent_id).order_by(Machine.name)))


# --- stored messages and dead letters ----------------------------------------


def seqs_between(*, db: Session, agent_id: int, first: int, last: int) -> set[int]:
    stmt = select(Message.seq).where(Message.agent_id == agent_id, Message.seq.between(first, last))
    return set(db.scalars(stmt))


def purge_dead_letters(*, db: Session, before: datetime) -> int:
    """Delete dead letters received before ``before``; how many."""
    result = db.execute(delete(DeadLetter).where(DeadLetter.received_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- readers for start-up ----------------------------------------------------


def all_agents(*, db: Session) -> list[Agent]:
    return list(db.scalars(select(Agent).order_by(Agent.site, Agent.name)))


def all_machines(*, db: Session) -> list[Machine]:
    return list(db.scalars(select(Machine).order_by(Machine.site, Machine.name)))


def seqs_above(*, db: Session, agent_id: int, seq: int | None) -> list[int]:
    stmt = select(Message.seq).where(Message.agent_id == agent_id)
    if seq is not None:
        stmt = stmt.where(Message.seq > seq)
    return list(db.scalars(stmt.order_by(Message.seq)))


def last_cycles(*, db: Session) -> dict[int, Cycle]:
    latest = select(Cycle.machine_id, func.max(Cycle.ended).label("ended")).group_by(Cycle.machine_id).subquery()
    stmt = select(Cycle).join(latest, (Cycle.machine_id == latest.c.machine_id) & (Cycle.ended == latest.c.ended))
    return {cycle.machine_id: cycle for cycle in db.scalars(stmt)}


def parts_since(*, db: Session, since: datetime) -> dict[int, int]:
    stmt = select(PartCount.machine_id, func.sum(PartCount.count)).where(PartCount.ts >= since)
    return {machine_id: int(total) for machine_id, total in db.execute(stmt.group_by(PartCount.machine_id))}


def last_state_changes(*, db: Session) -> dict[int, datetime]:
    stmt = select(StateChange.machine_id, func.max(StateChange.ts)).group_by(StateChange.machine_id)
    rows: Any = db.execute(stmt)
    return {machine_id: _aware(ts) for machine_id, ts in rows if ts is not None}


def _aware(ts: Any) -> datetime:
    # Some drivers hand back text or naive values for aggregates; make them aware UTC either way.
    value = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
