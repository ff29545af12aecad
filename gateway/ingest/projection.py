"""One ingest batch, one transaction: each message decoded, checked, deduplicated and written, or dead-lettered.

Runs in the database worker thread. The jobs are in modules of their own:
``decoding`` (the contract), ``owners`` (a machine message only from its
machine's owner), ``sequencing`` (dedupe by (agent, seq), a reused seq),
``status`` (agent presence), ``writer`` (the rows, in bulk or one message at a
time) and ``isolation`` (a failing batch narrowed down to the message at fault).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from edge_agent import contract
from gateway.ingest import owners, sequencing, status
from gateway.ingest.agents import KnownAgents
from gateway.ingest.attempt import Attempt, OnceLog
from gateway.ingest.decoding import Decoded, Entry, decode_all
from gateway.ingest.gaps import Gaps
from gateway.ingest.isolation import isolate
from gateway.ingest.messages import Accepted, AgentKey, BatchOutcome, Received
from gateway.ingest.writer import BulkWriter, OneByOneWriter, Pending
from gateway.store import bulk, bus_repo

logger = logging.getLogger(__name__)


class Projector:
    """Writes batches; keeps a cache of known agents (bus ids -> row ids). Machines are read per batch."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._agents = KnownAgents()
        self._once = OnceLog(logger)

    def load(self) -> None:
        with self._sessions() as db:
            self._agents.load(bus_repo.all_agents(db=db))

    def apply(self, batch: Sequence[Received], *, gaps: Gaps) -> BatchOutcome:
        """Write ``batch`` (each agent's contiguous seq as ``gaps`` sees it); raises only if the store is unwell."""
        return self.apply_decoded(decode_all(batch), gaps=gaps)

    def apply_decoded(self, entries: list[Entry], *, gaps: Gaps) -> BatchOutcome:
        """``apply`` for a batch decoded already (``decode_all``: pure, so ingest decodes the next batch meanwhile)."""

        def write(entries: list[Entry], one_by_one: bool) -> BatchOutcome:
            return self.write(entries, gaps=gaps, one_by_one=one_by_one)

        return isolate(entries, write, self._sessions)

    def write(self, entries: list[Entry], *, gaps: Gaps, one_by_one: bool) -> BatchOutcome:
        """One try at ``entries`` in one transaction, in bulk or message by message; raises what fails it."""
        with self._agents.forgotten_on_failure(), self._sessions.begin() as db:
            writer = OneByOneWriter(db) if one_by_one else BulkWriter(db)
            if not one_by_one:  # one by one, each message's statements run in its savepoints, at once
                bulk.defer_writes(db=db)
            machines = owners.machines_of_batch(db, self._agents, entries)
            attempt = Attempt(db, self._agents, writer, machines, self._once)
            if one_by_one:
                attempt.stored = sequencing.stored_stamps(db, self._agents, entries)
                attempt.seen = set(attempt.stored)
            # In bulk, no dedupe query first: the insert into ``messages`` skips keys already stored and says
            # which it wrote, so a message stored earlier is found a duplicate all the same.
            for item, result in entries:
                _take(attempt, item, result)
            sequencing.flush(attempt)
            bulk.touch_machines(db=db, seen=attempt.touched)
            # Observing before the commit is safe: a failed batch is retried and observing is idempotent.
            gaps.observe_all(attempt.outcome.observed, attempt.outcome.held)
            saved = self._agents.save_contiguous(db, gaps.contiguous_all())
        self._agents.saved(saved)
        return attempt.outcome

    def purge_dead_letters(self, before: datetime) -> int:
        with self._sessions.begin() as db:
            return bus_repo.purge_dead_letters(db=db, before=before)

    def stored_seqs(self, key: AgentKey, first: int, last: int) -> set[int]:
        """Seqs of one agent already in the store, e.g. committed by another gateway of a shared group."""
        agent_id = self._agents.id_of(key)
        if agent_id is None:
            return set()
        with self._sessions() as db:
            return bus_repo.seqs_between(db=db, agent_id=agent_id, first=first, last=last)


def _take(attempt: Attempt, item: Received, result: Decoded) -> None:
    """One message of the batch, by what it is."""
    if isinstance(result, contract.ContractError):
        attempt.dead_letter(item, result.reason)
        return
    topic, message = result
    match message:
        case contract.AgentStatus():
            status.take_status(attempt, item, topic, message)
        case contract.Telemetry():
            if owners.owned(attempt, item, topic.site, message, create=False) is not None:
                attempt.writer.add_unstored(Pending(Accepted(topic, message, item.received_at), item))
        case contract.ReplayRequest():
            attempt.dead_letter(item, "a replay request is for agents, not for the gateway")
        case _:
            sequencing.take_sequenced(attempt, item, topic, message)
