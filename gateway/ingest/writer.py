"""The rows of accepted messages, written a table at a time or one message at a time: the same rows either way.

The projector decides, message by message, what is accepted, a duplicate or a
dead letter, and hands the accepted ones to a writer. ``project`` turns stored
sequenced messages into the rows of each table (``gateway.store.ingest_rows``) and
writes them with one statement per table; both writers call it:

- ``BulkWriter`` gathers a stretch of the batch (a *segment*) and writes it with
  one ``executemany`` per table. The projector ends a segment (``flush``) wherever
  a later message must see the writes of earlier ones in the store: before an
  agent status (written through the ORM) and after an alarm clear (an UPDATE of
  alarms raised before it). Within a segment nothing reads what the segment
  writes, so the rows and the machines' latest snapshot and part counter come out
  as a message-by-message write would leave them.
- ``OneByOneWriter``, when a bulk write failed, writes each message at once: its
  ``messages`` row in a savepoint, then its other rows in another, so that a
  message whose rows fail is dead-lettered and the rest of the batch commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.ingest.failures import store_unwell
from gateway.ingest.messages import Accepted, Received
from gateway.store import bulk, ingest_rows

logger = logging.getLogger(__name__)

# What became of a message handed to a writer: its rows are written; its (agent, seq) was in the store already
# (stored meanwhile by another gateway of a pool, or earlier); or its rows failed and it is dead-lettered.
Fate = Literal["stored", "taken", "failed"]


@dataclass(frozen=True, slots=True)
class Sequenced:
    """A sequenced message with the rows of its machine and of the agent that owns it."""

    agent_id: int
    machine_id: int
    message: contract.SequencedMessage

    @property
    def key(self) -> bulk.Key:
        return self.agent_id, self.message.seq


@dataclass(frozen=True, slots=True)
class Pending:
    """A message handed to a writer, and what the projector accounts for once its fate is known."""

    accepted: Accepted
    item: Received
    sequenced: Sequenced | None = None  # None: a message without rows of its own (telemetry)


class _Writer:
    """What both writers share: messages in the order handed over, each with its fate so far, and dead letters."""

    def __init__(self, db: Session) -> None:
        self._db = db
        self._handed: list[tuple[Pending, Fate]] = []
        self._dead_letters: list[ingest_rows.Row] = []
        self.clears_pending = False  # an alarm clear is waiting: the caller flushes before the next message

    def add_unstored(self, pending: Pending) -> None:
        """A message accepted without a row (telemetry), kept in order with the rest."""
        self._handed.append((pending, "stored"))

    def add_dead_letter(self, item: Received, reason: str) -> None:
        self._dead_letters.append(dead_letter_row(item, reason))

    def flush(self) -> list[tuple[Pending, Fate]]:
        """Write what is pending; each message handed over since the last flush, in order, with its fate."""
        handed, dead = self._handed, self._dead_letters
        self._handed, self._dead_letters = [], []
        self.clears_pending = False
        fates = self._write(handed)
        bulk.insert_rows(db=self._db, table=bulk.DEAD_LETTERS, rows=dead)
        return fates

    def _write(self, handed: list[tuple[Pending, Fate]]) -> list[tuple[Pending, Fate]]:
        return handed


class BulkWriter(_Writer):
    """Pending rows of one segment, written a table at a time on ``flush``."""

    def add_sequenced(self, pending: Pending) -> None:
        assert pending.sequenced is not None
        self._handed.append((pending, "stored"))  # unless the insert into ``messages`` finds its key taken
        if isinstance(pending.sequenced.message, contract.AlarmCleared):
            self.clears_pending = True

    def _write(self, handed: list[tuple[Pending, Fate]]) -> list[tuple[Pending, Fate]]:
        db = self._db
        db.flush()  # ORM writes of earlier segments (agent status) go first, as they came first
        sequenced = [p.sequenced for p, _ in handed if p.sequenced is not None]
        inserted = bulk.insert_messages(db=db, rows=[_message_row(p) for p, _ in handed if p.sequenced])
        project(db, [s for s in sequenced if s.key in inserted])
        return [(p, "taken" if p.sequenced and p.sequenced.key not in inserted else fate) for p, fate in handed]


class OneByOneWriter(_Writer):
    """Each sequenced message written when it is handed over, in savepoints of its own."""

    def add_sequenced(self, pending: Pending) -> None:
        sequenced = pending.sequenced
        assert sequenced is not None
        db = self._db
        try:
            with db.begin_nested():
                inserted = bulk.insert_messages(db=db, rows=[_message_row(pending)])
        except IntegrityError:  # a dialect without ON CONFLICT: the key was taken
            inserted = set()
        if sequenced.key not in inserted:
            self._handed.append((pending, "taken"))
            return
        try:
            with db.begin_nested():
                project(db, [sequenced])
        except Exception as err:
            if store_unwell(err):
                raise
            # The seq stays recorded as received (a replay would fail the same way); the payload waits
            # in the dead letters for someone to look.
            logger.exception("projection failed topic=%r seq=%d", pending.item.topic, sequenced.message.seq)
            self.add_dead_letter(pending.item, f"projection failed: {type(err).__name__}: {err}")
            self._handed.append((pending, "failed"))
            return
        self._handed.append((pending, "stored"))


def dead_letter_row(item: Received, reason: str) -> ingest_rows.Row:
    return ingest_rows.dead_letter_row(
        topic=item.topic, payload=item.payload, reason=reason, received_at=item.received_at
    )


def _message_row(pending: Pending) -> ingest_rows.Row:
    sequenced = pending.sequenced
    assert sequenced is not None
    return ingest_rows.message_row(
        agent_id=sequenced.agent_id,
        machine_id=sequenced.machine_id,
        message=sequenced.message,
        received_at=pending.item.received_at,
    )


def project(db: Session, stored: Sequence[Sequenced]) -> None:
    """The rows of stored sequenced messages in every table but ``messages``, one statement per table."""
    state_changes: list[ingest_rows.Row] = []
    cycles: list[ingest_rows.Row] = []
    parts: list[ingest_rows.Row] = []
    alarms: list[ingest_rows.Row] = []
    clears: list[tuple[int, contract.AlarmCleared]] = []
    for item in stored:
        machine_id, agent_id = item.machine_id, item.agent_id
        match item.message:
            case contract.StateChanged() as m:
                state_changes.append(ingest_rows.state_changed_row(machine_id, m))
            case contract.CycleEnded() as m:
                cycles.append(ingest_rows.cycle_row(machine_id, agent_id, m))
            case contract.PartCounted() as m:
                parts.append(ingest_rows.part_count_row(machine_id, agent_id, m))
            case contract.AlarmRaised() as m:
                alarms.append(ingest_rows.alarm_row(machine_id, m))
            case contract.AlarmCleared() as m:
                clears.append((machine_id, m))
            case _:
                pass  # snapshots fold into machines below; cycle_started and program_changed only in messages
    bulk.insert_rows(db=db, table=bulk.STATE_CHANGES, rows=state_changes)
    bulk.insert_rows(db=db, table=bulk.CYCLES, rows=cycles)
    bulk.insert_rows(db=db, table=bulk.PART_COUNTS, rows=parts)
    bulk.insert_rows(db=db, table=bulk.ALARMS, rows=alarms)
    _update_machines(db, stored)
    for machine_id, clear in clears:  # after the inserts: a clear sees the alarms raised before it
        bulk.clear_alarm(db=db, machine_id=machine_id, code=clear.code, ts=clear.ts)


def _update_machines(db: Session, stored: Sequence[Sequenced]) -> None:
    """Fold snapshots and part counters into each machine's row, in batch order, as one write per machine."""
    snapshots = {item.machine_id for item in stored if isinstance(item.message, contract.StateMessage)}
    held: dict[int, datetime | None] = bulk.machine_state_times(db=db, machine_ids=snapshots)
    changes: dict[int, ingest_rows.Row] = {}
    for item in stored:
        message = item.message
        if isinstance(message, contract.StateMessage):
            current = held.get(item.machine_id)
            if current is not None and current > message.ts:
                continue  # a replayed older snapshot only lands in ``messages``
            held[item.machine_id] = message.ts
            changes.setdefault(item.machine_id, {}).update(ingest_rows.snapshot_columns(message))
        elif isinstance(message, contract.PartCounted) and message.counter is not None:
            changes.setdefault(item.machine_id, {}).update(ingest_rows.counter_columns(message))
    bulk.update_machines(db=db, changes=changes)
