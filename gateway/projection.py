"""One ingest batch, one transaction: validate, dedupe and write every message of the batch.

Runs in a worker thread. A batch is first written in bulk (``BatchWriter``: one
statement per table, not per row). If that fails for a reason that is not the
database's, the batch is written again message by message, each sequenced
message in its own SAVEPOINT, so a message whose projection fails is
dead-lettered (with the error as reason) and the rest of the batch still
commits. Database failures (locked, disk full, connection lost) are not the
message's fault: they abort the whole batch, which the caller retries without
acknowledging anything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

import edge_agent.contract as contract  # noqa: PLR0402 - the layering test accepts only this module path
from gateway.batch_writer import BatchWriter
from gateway.gaps import AgentKey, Gaps
from gateway.mqtt_consumer import Received
from gateway.store import bulk, repo
from gateway.store.repo import message_kind

logger = logging.getLogger(__name__)

MachineKey = tuple[str, str]  # (site, machine)
_Decoded = tuple[contract.Topic, contract.Message] | contract.ContractError
SEQUENCED_TYPES = (contract.StateMessage, *contract.EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message now in the store (or, for telemetry, validated), for the live view."""

    topic: contract.Topic
    message: contract.Message
    received_at: datetime
    agent_machines: tuple[str, ...] = ()  # for an agent status: every machine the agent serves


@dataclass
class BatchOutcome:
    accepted: list[Accepted] = field(default_factory=list)
    observed: list[tuple[AgentKey, int, bool]] = field(default_factory=list)  # (agent, seq, may start tracking)
    duplicates: int = 0
    dead_letters: int = 0


@dataclass
class _Work:
    session: Session
    outcome: BatchOutcome
    seen: set[tuple[int, int]]  # (agent row, seq) already in the store or earlier in this batch
    stored: dict[bulk.Key, bulk.Stamp] = field(default_factory=dict)  # what the store holds for ``seen`` keys
    touched: dict[int, datetime] = field(default_factory=dict)
    # Rows written a table at a time; None when the batch is replayed message by message, with savepoints.
    writer: BatchWriter[tuple[Accepted, int | None, Received]] | None = None


class Projector:
    """Writes batches; keeps a cache of known agents and machines (bus ids → row ids)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._agents: dict[AgentKey, int] = {}
        self._machines: dict[MachineKey, int] = {}
        self._saved_contiguous: dict[int, int] = {}
        self._reuse_reported: set[AgentKey] = set()

    def load(self) -> None:
        with self._sessions() as session:
            agents = repo.all_agents(session=session)
            self._agents = {(a.site, a.name): a.id for a in agents}
            self._saved_contiguous = {a.id: a.contiguous_seq for a in agents if a.contiguous_seq is not None}
            self._machines = {(m.site, m.name): m.id for m in repo.all_machines(session=session)}

    def apply(self, batch: Sequence[Received], *, gaps: Gaps) -> BatchOutcome:
        """Write ``batch`` in one transaction, with each agent's contiguous seq as ``gaps`` then sees it."""
        decoded = [(item, _decode(item)) for item in batch]
        try:
            return self._apply(decoded, gaps, guarded=False)
        except OperationalError:
            raise  # the database itself is unwell: the caller retries the batch with back-off
        except Exception as err:  # a message in the batch fails: isolate it with savepoints
            logger.info("batch of %d replayed message by message: %s: %s", len(batch), type(err).__name__, err)
            return self._apply(decoded, gaps, guarded=True)

    def _apply(self, decoded: list[tuple[Received, _Decoded]], gaps: Gaps, *, guarded: bool) -> BatchOutcome:
        agents, machines = dict(self._agents), dict(self._machines)
        try:
            with self._sessions.begin() as session:
                self._lock_rows(session, decoded)
                if guarded:
                    stored = self._preload_stored(session, decoded)
                    work = _Work(session, BatchOutcome(), set(stored), stored)
                else:
                    # No dedupe query first: the bulk insert of ``messages`` skips keys already stored and
                    # says which it wrote, so a message stored earlier is found a duplicate all the same.
                    work = _Work(session, BatchOutcome(), set(), writer=BatchWriter(session))
                for item, result in decoded:
                    self._one(work, item, result)
                self._flush(work)
                bulk.touch_machines(session=session, seen=work.touched)
                # Observing before the commit is safe: a failed batch is retried and observing is idempotent.
                gaps.observe_all(work.outcome.observed)
                saved = self._save_contiguous(session, gaps.contiguous_all())
        except BaseException:
            self._agents, self._machines = agents, machines  # registrations rolled back with the batch
            raise
        self._saved_contiguous.update(saved)
        return work.outcome

    def _lock_rows(self, session: Session, decoded: list[tuple[Received, _Decoded]]) -> None:
        """On PostgreSQL, lock the machine and agent rows the batch will update, in id order, first.

        Gateways sharing a subscription update the same machines' rows; locked as each statement reached
        them, in arrival order, two batches would take them in opposite orders and deadlock (PostgreSQL
        then aborts one after ``deadlock_timeout``, a one-second stall). SQLite has one writer anyway.
        """
        if session.get_bind().dialect.name != "postgresql":
            return
        agents: set[int] = set()
        machines: set[int] = set()
        for _, result in decoded:
            if not isinstance(result, tuple):
                continue
            site, message = result[0].site, result[1]
            if isinstance(message, contract.AgentStatus):
                names = message.machines
            elif isinstance(message, SEQUENCED_TYPES):
                names = (message.machine,)
            else:
                continue
            agents.add(self._agents.get((site, message.agent), 0))
            machines.update(self._machines.get((site, name), 0) for name in names)
        bulk.lock_rows(session=session, machine_ids=machines - {0}, agent_ids=agents - {0})

    def stored_seqs(self, key: AgentKey, first: int, last: int) -> set[int]:
        """Seqs of one agent already in the store, e.g. committed by another gateway of a shared group."""
        agent_id = self._agents.get(key)
        if agent_id is None:
            return set()
        with self._sessions() as session:
            return repo.seqs_between(session=session, agent_id=agent_id, first=first, last=last)

    def _preload_stored(self, session: Session, decoded: list[tuple[Received, _Decoded]]) -> dict[bulk.Key, bulk.Stamp]:
        wanted: list[tuple[int, int]] = []
        for _, result in decoded:
            if isinstance(result, tuple) and isinstance(result[1], SEQUENCED_TYPES):
                agent_id = self._agents.get((result[0].site, result[1].agent))
                if agent_id is not None:
                    wanted.append((agent_id, result[1].seq))
        return bulk.stored_stamps(session=session, keys=wanted)

    def _save_contiguous(self, session: Session, contiguous: dict[AgentKey, int]) -> dict[int, int]:
        saved: dict[int, int] = {}
        for key, seq in contiguous.items():
            agent_id = self._agents.get(key)
            if agent_id is not None and self._saved_contiguous.get(agent_id) != seq:
                saved[agent_id] = seq
        bulk.set_contiguous(session=session, seqs=saved)
        return saved

    def _flush(self, work: _Work) -> None:
        """Write what the bulk writer holds, then account for it in batch order."""
        if work.writer is None:
            return
        flushed = work.writer.flush()
        refused = [tag for tag, kept in flushed if not kept]
        if refused:
            keys = [
                (agent_id, message.seq)
                for accepted, _, _ in refused
                if isinstance(message := accepted.message, SEQUENCED_TYPES)
                and (agent_id := self._agents.get((accepted.topic.site, message.agent))) is not None
            ]
            work.stored.update(bulk.stored_stamps(session=work.session, keys=keys))
        for (accepted, machine_id, item), kept in flushed:
            if not kept:
                self._duplicate(work, item, accepted.topic.site, accepted.message)
                continue
            if machine_id is not None:
                work.touched[machine_id] = accepted.received_at
            work.outcome.accepted.append(accepted)

    def _one(self, work: _Work, item: Received, result: _Decoded) -> None:
        if isinstance(result, contract.ContractError):
            self._dead_letter(work, item, result.reason)
            return
        topic, message = result
        match message:
            case contract.AgentStatus():
                self._flush(work)  # the status is written through the ORM, after what came before it
                self._status(work, item, topic, message)
            case contract.Telemetry():
                if (topic.site, message.machine) not in self._machines:
                    self._dead_letter(work, item, f"unknown machine {message.machine!r} on site {topic.site!r}")
                    return
                accepted = Accepted(topic, message, item.received_at)
                if work.writer is None:
                    work.outcome.accepted.append(accepted)
                else:
                    work.writer.add_unstored((accepted, None, item))
            case contract.ReplayRequest():
                self._dead_letter(work, item, "a replay request is for agents, not for the gateway")
            case _:
                self._sequenced(work, item, topic, message)

    def _status(self, work: _Work, item: Received, topic: contract.Topic, message: contract.AgentStatus) -> None:
        session, site = work.session, topic.site
        previous = repo.find_agent(session=session, site=site, name=message.agent)
        was_offline = previous is not None and previous.status == "offline"
        agent = repo.upsert_agent(
            session=session,
            site=site,
            name=message.agent,
            status=message.status,
            version=message.version,
            seen=item.received_at,
        )
        self._agents[(site, message.agent)] = agent.id
        for name in message.machines:
            machine = repo.upsert_machine(
                session=session, site=site, name=name, agent_id=agent.id, seen=item.received_at
            )
            self._machines[(site, name)] = machine.id
        served = repo.machines_of_agent(session=session, agent_id=agent.id)
        if message.status == "offline" and not was_offline:
            for machine in served:
                repo.record_state_change(
                    session=session,
                    machine_id=machine.id,
                    ts=item.received_at,
                    availability=contract.Availability.UNAVAILABLE.value,
                    execution=None,
                    mode=None,
                )
        names = tuple(m.name for m in served)
        work.outcome.accepted.append(Accepted(topic, message, item.received_at, agent_machines=names))

    def _sequenced(
        self, work: _Work, item: Received, topic: contract.Topic, message: contract.SequencedMessage
    ) -> None:
        site = topic.site
        work.outcome.observed.append(((site, message.agent), message.seq, not item.retain))
        machine_id = self._machines.get((site, message.machine))
        agent_id = self._agents.get((site, message.agent))
        if machine_id is None or agent_id is None:
            what = f"machine {message.machine!r}" if machine_id is None else f"agent {message.agent!r}"
            self._dead_letter(work, item, f"unknown {what} on site {site!r} (never announced by an agent birth)")
            return
        if (agent_id, message.seq) in work.seen:
            self._duplicate(work, item, site, message)
            return
        work.seen.add((agent_id, message.seq))
        if work.writer is not None:
            accepted = Accepted(topic, message, item.received_at)
            work.writer.add_sequenced(
                (accepted, machine_id, item),
                agent_id=agent_id,
                machine_id=machine_id,
                message=message,
                received_at=item.received_at,
            )
            if work.writer.clears_pending:
                self._flush(work)  # a later alarm of the same code must not be cleared with the earlier ones
            return
        if self._store(work, item, machine_id, agent_id, message):
            work.touched[machine_id] = item.received_at
            work.outcome.accepted.append(Accepted(topic, message, item.received_at))

    def _store(
        self, work: _Work, item: Received, machine_id: int, agent_id: int, message: contract.SequencedMessage
    ) -> bool:
        """Record the seq, then project, each in a savepoint; False when a duplicate or dead-lettered."""
        session = work.session
        try:
            with session.begin_nested():
                repo.record_message(
                    session=session,
                    agent_id=agent_id,
                    machine_id=machine_id,
                    message=message,
                    received_at=item.received_at,
                )
        except IntegrityError:
            work.outcome.duplicates += 1  # stored meanwhile by another gateway sharing the subscription
            return False
        try:
            with session.begin_nested():
                _project(session, machine_id, agent_id, message)
        except OperationalError:
            raise
        except Exception as err:
            # The seq stays recorded as received (a replay would fail the same way); the payload waits
            # in the dead letters for someone to look.
            logger.exception("projection failed topic=%r seq=%d", item.topic, message.seq)
            self._dead_letter(work, item, f"projection failed: {type(err).__name__}: {err}")
            return False
        return True

    def _duplicate(self, work: _Work, item: Received, site: str, message: contract.Message) -> None:
        """A seq already stored: a redelivery or a replay, unless the store holds another message under it."""
        assert isinstance(message, SEQUENCED_TYPES)
        agent_id = self._agents[(site, message.agent)]
        stamp = work.stored.get((agent_id, message.seq))
        if stamp is None or stamp == (message_kind(message), message.ts):
            work.outcome.duplicates += 1
            return
        # An agent whose outbox was reset numbers from 1 again: dropping its events as duplicates would
        # lose them without a word. They wait in the dead letters, and the log says what to do.
        reason = (
            f"seq {message.seq} of agent {message.agent!r} is already stored for another message "
            f"({stamp[0]} at {stamp[1].isoformat()}): the agent's outbox was reset (state_dir wiped, or a "
            "new PC); give the agent a new [agent] id so that its numbering starts afresh"
        )
        if (site, message.agent) not in self._reuse_reported:  # once per agent, not once per message
            self._reuse_reported.add((site, message.agent))
            logger.error("agent %r of site %r reuses sequence numbers: %s", message.agent, site, reason)
        repo.record_dead_letter(
            session=work.session, topic=item.topic, payload=item.payload, reason=reason, received_at=item.received_at
        )
        work.outcome.dead_letters += 1

    def _dead_letter(self, work: _Work, item: Received, reason: str) -> None:
        logger.warning("dead letter topic=%r reason=%r", item.topic, reason)
        if work.writer is None:
            repo.record_dead_letter(
                session=work.session,
                topic=item.topic,
                payload=item.payload,
                reason=reason,
                received_at=item.received_at,
            )
        else:
            work.writer.add_dead_letter(
                topic=item.topic, payload=item.payload, reason=reason, received_at=item.received_at
            )
        work.outcome.dead_letters += 1


def _project(session: Session, machine_id: int, agent_id: int, message: contract.SequencedMessage) -> None:
    match message:
        case contract.StateMessage():
            repo.record_state_snapshot(session=session, machine_id=machine_id, message=message)
        case contract.StateChanged():
            repo.record_state_change(
                session=session,
                machine_id=machine_id,
                ts=message.ts,
                availability=message.availability.value,
                execution=None if message.execution is None else message.execution.value,
                mode=None if message.mode is None else message.mode.value,
            )
        case contract.CycleEnded():
            repo.record_cycle(session=session, machine_id=machine_id, agent_id=agent_id, event=message)
        case contract.PartCounted():
            repo.record_part_count(session=session, machine_id=machine_id, agent_id=agent_id, event=message)
        case contract.AlarmRaised():
            repo.record_alarm(session=session, machine_id=machine_id, event=message)
        case contract.AlarmCleared():
            repo.clear_alarm(session=session, machine_id=machine_id, code=message.code, ts=message.ts)
        case _:
            pass  # cycle_started and program_changed live in ``messages`` and the live view only
    session.flush()


def _decode(item: Received) -> _Decoded:
    try:
        return contract.decode(item.topic, item.payload)
    except contract.ContractError as err:
        return err
