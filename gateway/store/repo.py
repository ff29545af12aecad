"""Keyword-only functions that read and write the store inside a caller's session.

Writers take contract messages as they come off the bus; the caller owns the
transaction (one per ingest batch, a savepoint per message).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

import edge_agent.contract as contract  # noqa: PLR0402 - the layering test accepts only this module path
from gateway.store.models import Agent, AlarmRecord, Cycle, DeadLetter, Machine, Message, PartCount, StateChange

MAX_REASON_CHARS = 2000
# A dead letter keeps what a person needs to see what was wrong, not what an attacker chose to send:
# the first few KiB of the payload, its full size and its SHA-256 (to match it with the sender's copy).
DEAD_LETTER_PREFIX_BYTES = 4096
MAX_TOPIC_CHARS = 512
VERSION_CHARS = 64  # agents.version


# --- agents and machines -----------------------------------------------------


def find_agent(*, session: Session, site: str, name: str) -> Agent | None:
    return session.scalars(select(Agent).where(Agent.site == site, Agent.name == name)).one_or_none()


def upsert_agent(
    *, session: Session, site: str, name: str, status: str, version: str, seen: datetime, announced: list[str] | None
) -> Agent:
    """Record an agent's status; ``announced`` (None: keep what was announced before) are the machines it serves."""
    version = version[:VERSION_CHARS]
    agent = find_agent(session=session, site=site, name=name)
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
        session.add(agent)
    else:
        agent.status = status
        agent.version = version or agent.version
        agent.last_seen = seen
        if announced is not None:
            agent.announced = announced
    session.flush()
    return agent


def machines_of_agent(*, session: Session, agent_id: int) -> list[Machine]:
    return list(session.scalars(select(Machine).where(Machine.agent_id == agent_id).order_by(Machine.name)))


# --- sequenced messages ------------------------------------------------------


def seqs_between(*, session: Session, agent_id: int, first: int, last: int) -> set[int]:
    stmt = select(Message.seq).where(Message.agent_id == agent_id, Message.seq.between(first, last))
    return set(session.scalars(stmt))


def message_kind(message: contract.SequencedMessage) -> str:
    """The ``type`` column of ``messages``: a state snapshot's kind, or an event's type."""
    return message.kind if isinstance(message, contract.StateMessage) else message.type


def record_message(
    *, session: Session, agent_id: int, machine_id: int, message: contract.SequencedMessage, received_at: datetime
) -> None:
    session.execute(
        insert(Message).values(
            agent_id=agent_id,
            seq=message.seq,
            machine_id=machine_id,
            type=message_kind(message),
            ts=message.ts,
            received_at=received_at,
        )
    )


def record_state_snapshot(*, session: Session, machine_id: int, message: contract.StateMessage) -> None:
    """Keep the newest snapshot by source time; a replayed older one only lands in ``messages``."""
    machine = session.get_one(Machine, machine_id)
    if machine.last_state_ts is not None and machine.last_state_ts > message.ts:
        return
    machine.last_state = message.state.model_dump(mode="json")
    machine.last_state_seq = message.seq
    machine.last_state_ts = message.ts
    if message.state.part_count is not None:
        machine.part_counter = message.state.part_count


def record_state_change(
    *, session: Session, machine_id: int, ts: datetime, availability: str, execution: str | None, mode: str | None
) -> None:
    session.add(StateChange(machine_id=machine_id, ts=ts, availability=availability, execution=execution, mode=mode))


def record_cycle(*, session: Session, machine_id: int, agent_id: int, event: contract.CycleEnded) -> None:
    session.add(
        Cycle(
            machine_id=machine_id,
            agent_id=agent_id,
            seq=event.seq,
            program=event.program,
            kind=event.kind.value,
            started=event.started,
            ended=event.ts,
            duration_s=event.duration_s,
            held_s=event.held_s,
            parts=event.parts,
            outcome=event.outcome.value,
        )
    )


def record_part_count(*, session: Session, machine_id: int, agent_id: int, event: contract.PartCounted) -> None:
    session.add(
        PartCount(
            machine_id=machine_id,
            agent_id=agent_id,
            seq=event.seq,
            ts=event.ts,
            count=event.count,
            counter=event.counter,
            program=event.program,
        )
    )
    if event.counter is not None:
        session.execute(update(Machine).where(Machine.id == machine_id).values(part_counter=event.counter))


def record_alarm(*, session: Session, machine_id: int, event: contract.AlarmRaised) -> None:
    alarm = event.alarm
    session.add(
        AlarmRecord(
            machine_id=machine_id,
            ts=event.ts,
            code=alarm.code,
            message=alarm.message,
            severity=alarm.severity.value,
            cleared=None,
        )
    )


def clear_alarm(*, session: Session, machine_id: int, code: str, ts: datetime) -> None:
    session.flush()  # an alarm raised earlier in the same batch must be visible here
    session.execute(
        update(AlarmRecord)
        .where(AlarmRecord.machine_id == machine_id, AlarmRecord.code == code, AlarmRecord.cleared.is_(None))
        .values(cleared=ts)
    )


def dead_letter_row(*, topic: str, payload: bytes, reason: str, received_at: datetime) -> dict[str, Any]:
    """The bounded row of a refused message (the columns of ``dead_letters``)."""
    return {
        "received_at": received_at,
        "topic": _printable(topic, MAX_TOPIC_CHARS),
        "payload": payload[:DEAD_LETTER_PREFIX_BYTES],
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "reason": _printable(reason, MAX_REASON_CHARS),
    }


def _printable(text: str, limit: int) -> str:
    # NUL and lone surrogates come from hostile topics or error texts quoting them; PostgreSQL refuses both.
    return text[:limit].replace("\0", "\\0").encode("utf-8", "backslashreplace").decode()


def record_dead_letter(*, session: Session, topic: str, payload: bytes, reason: str, received_at: datetime) -> None:
    session.add(DeadLetter(**dead_letter_row(topic=topic, payload=payload, reason=reason, received_at=received_at)))


def purge_dead_letters(*, session: Session, before: datetime) -> int:
    """Delete dead letters received before ``before``; how many."""
    result = session.execute(delete(DeadLetter).where(DeadLetter.received_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- readers for start-up ----------------------------------------------------


def all_agents(*, session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.site, Agent.name)))


def all_machines(*, session: Session) -> list[Machine]:
    return list(session.scalars(select(Machine).order_by(Machine.site, Machine.name)))


def seqs_above(*, session: Session, agent_id: int, seq: int | None) -> list[int]:
    stmt = select(Message.seq).where(Message.agent_id == agent_id)
    if seq is not None:
        stmt = stmt.where(Message.seq > seq)
    return list(session.scalars(stmt.order_by(Message.seq)))


def last_cycles(*, session: Session) -> dict[int, Cycle]:
    latest = select(Cycle.machine_id, func.max(Cycle.ended).label("ended")).group_by(Cycle.machine_id).subquery()
    stmt = select(Cycle).join(latest, (Cycle.machine_id == latest.c.machine_id) & (Cycle.ended == latest.c.ended))
    return {cycle.machine_id: cycle for cycle in session.scalars(stmt)}


def parts_since(*, session: Session, since: datetime) -> dict[int, int]:
    stmt = select(PartCount.machine_id, func.sum(PartCount.count)).where(PartCount.ts >= since)
    return {machine_id: int(total) for machine_id, total in session.execute(stmt.group_by(PartCount.machine_id))}


def last_state_changes(*, session: Session) -> dict[int, datetime]:
    stmt = select(StateChange.machine_id, func.max(StateChange.ts)).group_by(StateChange.machine_id)
    rows: Any = session.execute(stmt)
    return {machine_id: _aware(ts) for machine_id, ts in rows if ts is not None}


def _aware(ts: Any) -> datetime:
    # Some drivers hand back text or naive values for aggregates; make them aware UTC either way.
    value = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
