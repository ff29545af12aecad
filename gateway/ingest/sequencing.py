"""Sequenced messages: observed for gap repair, deduplicated by (agent, seq), a reused seq told apart.

The outbox delivers at least once, so the same (agent, seq) may come again: a
redelivery or a replay is a duplicate, dropped. The same seq with another
message under it is an agent whose outbox was reset: dead-lettered, with what
to do, never dropped as a duplicate.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.ingest import owners
from gateway.ingest.agents import KnownAgents
from gateway.ingest.attempt import Attempt
from gateway.ingest.decoding import SEQUENCED_TYPES, Entry
from gateway.ingest.messages import Accepted, Received
from gateway.ingest.writer import Pending, Sequenced
from gateway.store import bulk, ingest_rows


def take_sequenced(attempt: Attempt, item: Received, topic: contract.Topic, message: contract.SequencedMessage) -> None:
    site = topic.site
    found = owners.owned(attempt, item, site, message, create=True)
    if found is None:
        return
    machine_id, agent_id = found
    attempt.outcome.observed.append(((site, message.agent), message.seq, not item.retain))
    if (agent_id, message.seq) in attempt.seen:
        duplicate(attempt, item, site, message)
        return
    attempt.seen.add((agent_id, message.seq))
    pending = Pending(Accepted(topic, message, item.received_at), item, Sequenced(agent_id, machine_id, message))
    attempt.writer.add_sequenced(pending)
    if attempt.writer.clears_pending:
        flush(attempt)  # a later alarm of the same code must not be cleared with the earlier ones


def flush(attempt: Attempt) -> None:
    """Write what the writer holds, then account for each message in batch order."""
    fates = attempt.writer.flush()
    taken = [p.sequenced.key for p, fate in fates if fate == "taken" and p.sequenced is not None]
    if taken:
        attempt.stored.update(bulk.stored_stamps(db=attempt.db, keys=taken))
    for pending, fate in fates:
        accepted = pending.accepted
        match fate:
            case "stored":
                if pending.sequenced is not None:
                    attempt.touched[pending.sequenced.machine_id] = accepted.received_at
                attempt.outcome.accepted.append(accepted)
            case "taken":
                duplicate(attempt, pending.item, accepted.topic.site, accepted.message)
            case "failed":
                attempt.outcome.dead_letters += 1  # the writer wrote its dead letter


def duplicate(attempt: Attempt, item: Received, site: str, message: contract.Message) -> None:
    """A seq already stored: a redelivery or a replay, unless the store holds another message under it."""
    assert isinstance(message, SEQUENCED_TYPES)
    agent_id = attempt.agents.id_of((site, message.agent))
    assert agent_id is not None
    stamp = attempt.stored.get((agent_id, message.seq))
    if stamp is None or stamp == (ingest_rows.message_kind(message), message.ts):
        attempt.outcome.duplicates += 1
        return
    # An agent whose outbox was reset numbers from 1 again: dropping its events as duplicates would
    # lose them without a word. They wait in the dead letters, and the log says what to do.
    reason = (
        f"seq {message.seq} of agent {message.agent!r} is already stored for another message "
        f"({stamp[0]} at {stamp[1].isoformat()}): the agent's outbox was reset (state_dir wiped, or a "
        "new PC); give the agent a new [agent] id so that its numbering starts afresh, and move its "
        "machines to that id with 'atelier gateway move-machine'"
    )
    attempt.once.error(
        ("reuse", site, message.agent),
        "agent %r of site %r reuses sequence numbers: %s",
        message.agent,
        site,
        reason,
    )
    attempt.dead_letter_now(item, reason)
    attempt.outcome.dead_letters += 1


def stored_stamps(db: Session, agents: KnownAgents, entries: list[Entry]) -> dict[bulk.Key, bulk.Stamp]:
    """What the store holds for the batch's sequenced messages: read first when writing message by message."""
    wanted: list[bulk.Key] = []
    for _, result in entries:
        if isinstance(result, tuple) and isinstance(result[1], SEQUENCED_TYPES):
            agent_id = agents.id_of((result[0].site, result[1].agent))
            if agent_id is not None:
                wanted.append((agent_id, result[1].seq))
    return bulk.stored_stamps(db=db, keys=wanted)
