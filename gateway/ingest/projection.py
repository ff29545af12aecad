"""One ingest batch, one transaction: validate, check ownership, dedupe and write every message of the batch.

Runs in a worker thread. A batch is first written in bulk (``BatchWriter``: one
statement per table, not per row). If that fails for a reason that is not the
store's, the batch is written again message by message, each sequenced message
in its own SAVEPOINT, so a message whose projection fails is dead-lettered (with
the error as reason) and the rest of the batch still commits. If even that
fails (a failure outside the savepoints: an agent status, the commit), the batch
is split in halves, each written the same way, down to the one message at
fault, which is dead-lettered alone: whatever the exception, one message never
holds back the others. Failures of the store itself (locked, disk full,
connection lost: ``store_unwell``) are not the message's fault: they abort the
whole batch, which the caller retries without acknowledging anything.

A machine-topic message is stored only if the agent it names owns the machine
(``gateway.ingest.ownership``); the owners are read from the store for every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

import edge_agent.contract as contract  # noqa: PLR0402 - the layering test accepts only this module path
from gateway.ingest import ownership
from gateway.ingest.consumer import Received
from gateway.ingest.gaps import AgentKey, Gaps
from gateway.ingest.writer import BatchWriter
from gateway.store import bulk, repo
from gateway.store.models import Agent
from gateway.store.repo import message_kind

logger = logging.getLogger(__name__)

MachineKey = bulk.MachineKey
_Decoded = tuple[contract.Topic, contract.Message] | contract.ContractError
_Entry = tuple[Received, _Decoded]
SEQUENCED_TYPES = (contract.StateMessage, *contract.EVENT_TYPES)
MACHINE_TYPES = (*SEQUENCED_TYPES, contract.Telemetry)


_STORE_FAILURES = (
    OperationalError,  # locked, disk full, read-only file, server gone, deadlock, statement timeout
    InterfaceError,
    InternalError,  # e.g. a read-only PostgreSQL standby
    ProgrammingError,  # schema or privileges not what the code expects: values are always bound parameters
    NotSupportedError,
    DisconnectionError,
    PoolTimeoutError,
)


def store_unwell(err: BaseException) -> bool:
    """A failure of the store itself: no message's fault, retry the batch. A message's own are the DBAPI's
    data-dependent errors (IntegrityError, DataError) and any exception from outside the database."""
    return isinstance(err, _STORE_FAILURES) or (isinstance(err, DBAPIError) and err.connection_invalidated)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message now in the store (or, for telemetry, validated), for the live view."""

    topic: contract.Topic
    message: contract.Message
    received_at: datetime
    agent_machines: tuple[str, ...] = ()  # for an agent status: every machine the agent owns


@dataclass
class BatchOutcome:
    accepted: list[Accepted] = field(default_factory=list)
    observed: list[tuple[AgentKey, int, bool]] = field(default_factory=list)  # (agent, seq, may start tracking)
    # Seqs of an agent refused for a machine it announces but does not own: asked for again once it is moved.
    held: list[tuple[AgentKey, int]] = field(default_factory=list)
    duplicates: int = 0
    dead_letters: int = 0
    foreign: int = 0  # of the dead letters: machine messages naming an agent that does not own the machine
    claims_refused: int = 0  # statuses announcing a machine another agent owns (a dead-letter row each, still accepted)
    replays: int = 0  # batches written again message by message
    splits: int = 0  # batches split in halves to isolate a message

    def merge(self, other: BatchOutcome) -> None:
        self.accepted.extend(other.accepted)
        self.observed.extend(other.observed)
        self.held.extend(other.held)
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.foreign += other.foreign
        self.claims_refused += other.claims_refused
        self.replays += other.replays
        self.splits += other.splits


@dataclass
class _Work:
    session: Session
    outcome: BatchOutcome
    machines: dict[MachineKey, bulk.Owned]  # the machines the batch names, with their owners, as the store holds them
    seen: set[tuple[int, int]] = field(default_factory=set)  # (agent row, seq) stored, or earlier in this batch
    stored: dict[bulk.Key, bulk.Stamp] = field(default_factory=dict)  # what the store holds for ``seen`` keys
    touched: dict[int, datetime] = field(default_factory=dict)
    announced: dict[int, frozenset[str]] = field(default_factory=dict)  # agent row -> machines it announces
    # Rows written a table at a time; None when the batch is replayed message by message, with savepoints.
    writer: BatchWriter[tuple[Accepted, int | None, Received]] | None = None


class Projector:
    """Writes batches; keeps a cache of known agents (bus ids -> row ids). Machines are read per batch."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._agents: dict[AgentKey, int] = {}
        self._saved_contiguous: dict[int, int] = {}
        self._reuse_reported: set[AgentKey] = set()
        self._foreign_reported: set[tuple[str, str, str]] = set()

    def load(self) -> None:
        with self._sessions() as session:
            agents = repo.all_agents(session=session)
            self._agents = {(a.site, a.name): a.id for a in agents}
            self._saved_contiguous = {a.id: a.contiguous_seq for a in agents if a.contiguous_seq is not None}

    def apply(self, batch: Sequence[Received], *, gaps: Gaps) -> BatchOutcome:
        """Write ``batch`` (each agent's contiguous seq as ``gaps`` sees it); raises only if the store is unwell."""
        return self._isolate([(item, _decode(item)) for item in batch], gaps)

    def _isolate(self, decoded: list[_Entry], gaps: Gaps) -> BatchOutcome:
        """In bulk; else message by message; else in halves, down to the one message at fault."""
        failure: Exception | None = None
        for guarded in (False, True):
            try:
                outcome = self._apply(decoded, gaps, guarded=guarded)
            except Exception as err:
                if store_unwell(err):
                    raise  # the caller retries the batch with back-off
                failure = err
                how = "split" if guarded else "replayed message by message"
                logger.info("batch of %d %s: %s: %s", len(decoded), how, type(err).__name__, err)
                continue
            outcome.replays += guarded
            return outcome
        assert failure is not None
        if len(decoded) == 1:
            return self._refuse_alone(decoded[0], failure)
        half = len(decoded) // 2
        outcome = self._isolate(decoded[:half], gaps)
        outcome.merge(self._isolate(decoded[half:], gaps))
        outcome.splits += 1
        return outcome

    def _refuse_alone(self, entry: _Entry, failure: Exception) -> BatchOutcome:
        """The message a batch failed on, isolated: dead-lettered in a transaction of its own."""
        item, _ = entry
        first_line = (str(failure).strip().splitlines() or [""])[0]
        reason = f"could not be stored: {type(failure).__name__}: {first_line}"
        logger.error("message isolated as the cause of a failing batch topic=%r: %s", item.topic, reason)
        with self._sessions.begin() as session:
            _record_dead_letter(session, item, reason)
        return BatchOutcome(dead_letters=1)

    def _apply(self, decoded: list[_Entry], gaps: Gaps, *, guarded: bool) -> BatchOutcome:
        agents = dict(self._agents)
        try:
            with self._sessions.begin() as session:
                work = _Work(session, BatchOutcome(), self._load_machines(session, decoded))
                if guarded:
                    work.stored = self._preload_stored(session, decoded)
                    work.seen = set(work.stored)
                else:
                    # No dedupe query first: the bulk insert of ``messages`` skips keys already stored and
                    # says which it wrote, so a message stored earlier is found a duplicate all the same.
                    work.writer = BatchWriter(session)
                for item, result in decoded:
                    self._one(work, item, result)
                self._flush(work)
                bulk.touch_machines(session=session, seen=work.touched)
                # Observing before the commit is safe: a failed batch is retried and observing is idempotent.
                gaps.observe_all(work.outcome.observed, work.outcome.held)
                saved = self._save_contiguous(session, gaps.contiguous_all())
        except BaseException:
            self._agents = agents  # registrations rolled back with the batch
            raise
        self._saved_contiguous.update(saved)
        return work.outcome

    def _load_machines(self, session: Session, decoded: list[_Entry]) -> dict[MachineKey, bulk.Owned]:
        """The machines the batch's machine messages name, with their owners.

        On PostgreSQL they are locked, then the agents, each in id order: gateways sharing a subscription
        update the same machines' rows; locked as each statement reached them, in arrival order, two batches
        would take them in opposite orders and deadlock (PostgreSQL then aborts one after
        ``deadlock_timeout``, a one-second stall). SQLite has one writer anyway.
        """
        names: set[MachineKey] = set()
        agents: set[int] = set()
        for _, result in decoded:
            if isinstance(result, tuple) and isinstance(message := result[1], MACHINE_TYPES):
                names.add((result[0].site, message.machine))
                agents.add(self._agents.get((result[0].site, message.agent), 0))
        postgres = session.get_bind().dialect.name == "postgresql"
        machines = bulk.machines_named(session=session, keys=names, lock=postgres)
        if postgres:
            bulk.lock_agents(session=session, agent_ids=agents - {0})
        return machines

    def purge_dead_letters(self, before: datetime) -> int:
        with self._sessions.begin() as session:
            return repo.purge_dead_letters(session=session, before=before)

    def stored_seqs(self, key: AgentKey, first: int, last: int) -> set[int]:
        """Seqs of one agent already in the store, e.g. committed by another gateway of a shared group."""
        agent_id = self._agents.get(key)
        if agent_id is None:
            return set()
        with self._sessions() as session:
            return repo.seqs_between(session=session, agent_id=agent_id, first=first, last=last)

    def _preload_stored(self, session: Session, decoded: list[_Entry]) -> dict[bulk.Key, bulk.Stamp]:
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
                if self._owned(work, item, topic.site, message, create=False) is None:
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
        """The agent's presence. An online status says which machines it serves; it claims none another owns.

        A status never creates a machine (a machine is created by its owner's first message on the machine's
        own topic), and an offline one marks only the agent's own machines UNAVAILABLE.
        """
        session, site = work.session, topic.site
        online = message.status == "online"
        previous = repo.find_agent(session=session, site=site, name=message.agent)
        was_offline = previous is not None and previous.status == "offline"
        announced = list(dict.fromkeys(message.machines)) if online else None
        agent = repo.upsert_agent(
            session=session,
            site=site,
            name=message.agent,
            status=message.status,
            version=message.version,
            seen=item.received_at,
            announced=announced,
        )
        self._agents[(site, message.agent)] = agent.id
        if announced is not None:
            work.announced[agent.id] = frozenset(announced)
            self._refuse_claims(work, item, site, agent, announced)
        served = repo.machines_of_agent(session=session, agent_id=agent.id)
        if not online and not was_offline:
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

    def _refuse_claims(self, work: _Work, item: Received, site: str, agent: Agent, announced: list[str]) -> None:
        owners = bulk.machines_named(session=work.session, keys=[(site, name) for name in announced], lock=False)
        for name in announced:
            owned = owners.get((site, name))
            if owned is None or owned[1] == agent.id:
                continue
            owner = self._agent_name(work.session, owned[1])
            reason = ownership.foreign_claim(site=site, machine=name, owner=owner, claimant=agent.name)
            self._report_foreign(site, name, agent.name, reason)
            _record_dead_letter(work.session, item, reason)
            work.outcome.claims_refused += 1

    def _owned(
        self,
        work: _Work,
        item: Received,
        site: str,
        message: contract.SequencedMessage | contract.Telemetry,
        *,
        create: bool,
    ) -> bulk.Owned | None:
        """(machine row, agent row) when the agent the message names owns its machine; else dead-lettered, None.

        With ``create``, a machine nobody owns yet is created for the agent if the agent announces it.
        """
        agent_id = self._agents.get((site, message.agent))
        if agent_id is None:
            reason = f"unknown agent {message.agent!r} on site {site!r} (never announced by an agent birth)"
            self._dead_letter(work, item, reason)
            return None
        key = (site, message.machine)
        owned = work.machines.get(key)
        if owned is None:
            if not (create and self._announces(work, agent_id, message.machine)):
                self._dead_letter(
                    work, item, ownership.unannounced(site=site, machine=message.machine, sender=message.agent)
                )
                return None
            owned = work.machines[key] = bulk.create_machine(
                session=work.session, key=key, agent_id=agent_id, seen=item.received_at
            )
        if owned[1] == agent_id:
            return owned
        announced = self._announces(work, agent_id, message.machine)
        if announced and isinstance(message, SEQUENCED_TYPES):
            work.outcome.held.append(((site, message.agent), message.seq))
        owner = self._agent_name(work.session, owned[1])
        reason = ownership.foreign_message(
            site=site, machine=message.machine, owner=owner, sender=message.agent, announced=announced
        )
        self._report_foreign(site, message.machine, message.agent, reason)
        self._dead_letter(work, item, reason)
        work.outcome.foreign += 1
        return None

    def _announces(self, work: _Work, agent_id: int, machine: str) -> bool:
        if agent_id not in work.announced:
            agent = work.session.get(Agent, agent_id)
            work.announced[agent_id] = frozenset(agent.announced or ()) if agent is not None else frozenset()
        return machine in work.announced[agent_id]

    def _agent_name(self, session: Session, agent_id: int) -> str:
        agent = session.get(Agent, agent_id)
        return "?" if agent is None else agent.name

    def _report_foreign(self, site: str, machine: str, agent: str, reason: str) -> None:
        if (site, machine, agent) not in self._foreign_reported:  # once per machine and agent, not per message
            self._foreign_reported.add((site, machine, agent))
            logger.error("ownership: %s", reason)

    def _sequenced(
        self, work: _Work, item: Received, topic: contract.Topic, message: contract.SequencedMessage
    ) -> None:
        site = topic.site
        owned = self._owned(work, item, site, message, create=True)
        if owned is None:
            return
        machine_id, agent_id = owned
        work.outcome.observed.append(((site, message.agent), message.seq, not item.retain))
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
            "new PC); give the agent a new [agent] id so that its numbering starts afresh, and move its "
            "machines to that id with 'atelier gateway move-machine'"
        )
        if (site, message.agent) not in self._reuse_reported:  # once per agent, not once per message
            self._reuse_reported.add((site, message.agent))
            logger.error("agent %r of site %r reuses sequence numbers: %s", message.agent, site, reason)
        _record_dead_letter(work.session, item, reason)
        work.outcome.dead_letters += 1

    def _dead_letter(self, work: _Work, item: Received, reason: str) -> None:
        logger.warning("dead letter topic=%r reason=%r", item.topic, reason)
        if work.writer is None:
            _record_dead_letter(work.session, item, reason)
        else:
            work.writer.add_dead_letter(
                topic=item.topic, payload=item.payload, reason=reason, received_at=item.received_at
            )
        work.outcome.dead_letters += 1


def _record_dead_letter(session: Session, item: Received, reason: str) -> None:
    repo.record_dead_letter(
        session=session, topic=item.topic, payload=item.payload, reason=reason, received_at=item.received_at
    )


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
    except Exception as err:  # the contract promises ContractError only; should it ever break that, dead-letter
        logger.exception("contract.decode raised %s for topic=%r", type(err).__name__, item.topic)
        return contract.ContractError(f"payload cannot be decoded: {type(err).__name__}")
