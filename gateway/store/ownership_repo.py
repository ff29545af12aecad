"""Moving a machine to another agent: the one deliberate way a machine changes owner, audited.

Used by ``atelier gateway move-machine`` and ``POST /api/machines/{site}/{machine}/move``.
The running gateway reads owners from the store for every batch, so a move
applies to the next batch, whichever process made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.errors import ConflictError, InvalidError, NotFoundError
from gateway.store.audit_log import audit
from gateway.store.models import Agent, Machine


@dataclass(frozen=True, slots=True)
class Move:
    site: str
    machine: str
    previous: str
    agent: str
    new_agent: bool  # the agent was not known yet: recorded, offline, until its first status
    online: bool  # the new owner's last status


def move_machine(*, db: Session, site: str, machine: str, agent: str, who: str, now: datetime) -> Move:
    """Give ``machine`` of ``site`` to ``agent``; raises NotFoundError, InvalidError or ConflictError."""
    if not contract.is_valid_id(agent):
        raise InvalidError("agent_id_invalid", agent=agent)
    row = db.scalars(select(Machine).where(Machine.site == site, Machine.name == machine)).one_or_none()
    if row is None:
        raise NotFoundError("machine_unknown", machine=f"{site}/{machine}")
    previous = db.get_one(Agent, row.agent_id)
    target = db.scalars(select(Agent).where(Agent.site == site, Agent.name == agent)).one_or_none()
    if target is not None and target.id == previous.id:
        raise ConflictError("machine_owned_already", machine=f"{site}/{machine}", agent=agent)
    created = target is None
    if target is None:
        # A planned move: the new PC has not announced itself yet. Its first status fills in the rest.
        target = Agent(site=site, name=agent, status="offline", version="", last_seen=now, contiguous_seq=None)
        db.add(target)
        db.flush()
    row.agent_id = target.id
    db.flush()
    audit(
        db=db,
        who=who,
        action="move",
        entity="machine",
        entity_id=row.id,
        at=now,
        before={"site": site, "machine": machine, "agent": previous.name},
        after={"site": site, "machine": machine, "agent": agent},
    )
    return Move(
        site=site,
        machine=machine,
        previous=previous.name,
        agent=agent,
        new_agent=created,
        online=target.status == "online",
    )
