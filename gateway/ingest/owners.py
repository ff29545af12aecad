"""Who owns the machines a batch names, and the check that a message comes from its machine's owner.

The rule and the texts a master reads are in ``gateway.ingest.ownership`` (pure);
this applies them to a batch. Owners are read from the store for every batch,
so a machine moved by another process or another gateway of a pool applies at
once.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.ingest import ownership
from gateway.ingest.agents import KnownAgents
from gateway.ingest.attempt import Attempt
from gateway.ingest.decoding import MACHINE_TYPES, SEQUENCED_TYPES, Entry
from gateway.ingest.messages import Received
from gateway.store import bulk
from gateway.store.models import Agent

logger = logging.getLogger(__name__)


def machines_of_batch(db: Session, agents: KnownAgents, entries: list[Entry]) -> dict[bulk.MachineKey, bulk.Owned]:
    """The machines the batch's machine messages name, with their owners.

    On PostgreSQL they are locked, then the agents, each in id order: gateways sharing a subscription
    update the same machines' rows; locked as each statement reached them, in arrival order, two batches
    would take them in opposite orders and deadlock (PostgreSQL then aborts one after
    ``deadlock_timeout``, a one-second stall). SQLite has one writer anyway.
    """
    names: set[bulk.MachineKey] = set()
    agent_ids: set[int] = set()
    for _, result in entries:
        if isinstance(result, tuple) and isinstance(message := result[1], MACHINE_TYPES):
            names.add((result[0].site, message.machine))
            agent_ids.add(agents.id_of((result[0].site, message.agent)) or 0)
    postgres = db.get_bind().dialect.name == "postgresql"
    machines = bulk.machines_named(db=db, keys=names, lock=postgres)
    if postgres:
        bulk.lock_agents(db=db, agent_ids=agent_ids - {0})
    return machines


def owned(
    attempt: Attempt,
    item: Received,
    site: str,
    message: contract.SequencedMessage | contract.Telemetry,
    *,
    create: bool,
) -> bulk.Owned | None:
    """(machine row, agent row) when the agent the message names owns its machine; else dead-lettered, None.

    With ``create``, a machine nobody owns yet is created for the agent if the agent announces it.
    """
    agent_id = attempt.agents.id_of((site, message.agent))
    if agent_id is None:
        reason = f"unknown agent {message.agent!r} on site {site!r} (never announced by an agent birth)"
        attempt.dead_letter(item, reason)
        return None
    key = (site, message.machine)
    found = attempt.machines.get(key)
    if found is None:
        if not (create and announces(attempt, agent_id, message.machine)):
            attempt.dead_letter(item, ownership.unannounced(site=site, machine=message.machine, sender=message.agent))
            return None
        found = attempt.machines[key] = bulk.create_machine(
            db=attempt.db, key=key, agent_id=agent_id, seen=item.received_at
        )
    if found[1] == agent_id:
        return found
    announced = announces(attempt, agent_id, message.machine)
    if announced and isinstance(message, SEQUENCED_TYPES):
        attempt.outcome.held.append(((site, message.agent), message.seq))
    reason = ownership.foreign_message(
        site=site,
        machine=message.machine,
        owner=agent_name(attempt.db, found[1]),
        sender=message.agent,
        announced=announced,
    )
    attempt.once.error(("foreign", site, message.machine, message.agent), "ownership: %s", reason)
    attempt.dead_letter(item, reason)
    attempt.outcome.foreign += 1
    return None


def refuse_claims(attempt: Attempt, item: Received, site: str, agent: Agent, announced: list[str]) -> None:
    """A status announcing machines another agent owns claims none of them: a dead-letter row for each."""
    owners = bulk.machines_named(db=attempt.db, keys=[(site, name) for name in announced], lock=False)
    for name in announced:
        found = owners.get((site, name))
        if found is None or found[1] == agent.id:
            continue
        owner = agent_name(attempt.db, found[1])
        reason = ownership.foreign_claim(site=site, machine=name, owner=owner, claimant=agent.name)
        attempt.once.error(("foreign", site, name, agent.name), "ownership: %s", reason)
        attempt.dead_letter_now(item, reason)
        attempt.outcome.claims_refused += 1


def announces(attempt: Attempt, agent_id: int, machine: str) -> bool:
    if agent_id not in attempt.announced:
        agent = attempt.db.get(Agent, agent_id)
        attempt.announced[agent_id] = frozenset(agent.announced or ()) if agent is not None else frozenset()
    return machine in attempt.announced[agent_id]


def agent_name(db: Session, agent_id: int) -> str:
    agent = db.get(Agent, agent_id)
    return "?" if agent is None else agent.name
