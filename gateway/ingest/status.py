"""An agent's status: its presence, the machines it announces, and UNAVAILABLE for its machines when it leaves.

An online status says which machines the agent serves; it claims none another
agent owns and never creates a machine (a machine is created by its owner's
first message on the machine's own topic). An offline one (the Last Will, or a
clean stop) marks only the agent's own machines UNAVAILABLE, once.
"""

from __future__ import annotations

from edge_agent import contract
from gateway.ingest import owners, sequencing
from gateway.ingest.attempt import Attempt
from gateway.ingest.messages import Accepted, Received
from gateway.store import bulk, bus_repo, ingest_rows


def take_status(attempt: Attempt, item: Received, topic: contract.Topic, message: contract.AgentStatus) -> None:
    sequencing.flush(attempt)  # the status is written through the ORM, after what came before it
    db, site = attempt.db, topic.site
    online = message.status == "online"
    previous = bus_repo.find_agent(db=db, site=site, name=message.agent)
    was_offline = previous is not None and previous.status == "offline"
    announced = list(dict.fromkeys(message.machines)) if online else None
    agent = bus_repo.upsert_agent(
        db=db,
        site=site,
        name=message.agent,
        status=message.status,
        version=message.version,
        seen=item.received_at,
        announced=announced,
    )
    attempt.agents.register((site, message.agent), agent.id)
    if announced is not None:
        attempt.announced[agent.id] = frozenset(announced)
        owners.refuse_claims(attempt, item, site, agent, announced)
    served = bus_repo.machines_of_agent(db=db, agent_id=agent.id)
    if not online and not was_offline:
        unavailable = contract.Availability.UNAVAILABLE.value
        changes = [
            ingest_rows.state_change_row(
                machine_id=machine.id, ts=item.received_at, availability=unavailable, execution=None, mode=None
            )
            for machine in served
        ]
        bulk.insert_rows(db=db, table=bulk.STATE_CHANGES, rows=changes)
    names = tuple(m.name for m in served)
    attempt.outcome.accepted.append(Accepted(topic, message, item.received_at, agent_machines=names))
