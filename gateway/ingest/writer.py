"""The bulk write of an ingest batch: rows gathered in batch order, then one statement per table.

The projector decides, message by message, what is accepted, a duplicate or a
dead letter; this writer turns the accepted messages of a stretch of the batch
(a *segment*) into rows and writes them with one ``executemany`` per table. The
projector ends a segment (``flush``) wherever a later message must see the
writes of earlier ones in the store: before an agent status (written through
the ORM) and after an alarm clear (an UPDATE of alarms raised before it). Within
a segment nothing reads what the segment writes, so the rows and the machines'
latest snapshot and part counter come out as a message-by-message write would
leave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

import edge_agent.contract as contract  # noqa: PLR0402 - the layering test accepts only this module path
from gateway.store import bulk
from gateway.store.repo import dead_letter_row, message_kind

T = TypeVar("T")
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Sequenced:
    key: bulk.Key
    machine_id: int
    message: contract.SequencedMessage


class BatchWriter(Generic[T]):
    """Pending rows of one segment; ``T`` is whatever the caller wants back for each message it added."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._items: list[tuple[T, _Sequenced | None]] = []
        self._messages: list[Row] = []
        self._dead_letters: list[Row] = []
        self.clears_pending = False  # an alarm clear is waiting: the caller flushes before the next message

    def add_unstored(self, tag: T) -> None:
        """A message accepted without a row (telemetry), kept in order with the rest."""
        self._items.append((tag, None))

    def add_sequenced(
        self, tag: T, *, agent_id: int, machine_id: int, message: contract.SequencedMessage, received_at: datetime
    ) -> None:
        self._messages.append(
            {
                "agent_id": agent_id,
                "seq": message.seq,
                "machine_id": machine_id,
                "type": message_kind(message),
                "ts": message.ts,
                "received_at": received_at,
            }
        )
        self._items.append((tag, _Sequenced((agent_id, message.seq), machine_id, message)))
        if isinstance(message, contract.AlarmCleared):
            self.clears_pending = True

    def add_dead_letter(self, *, topic: str, payload: bytes, reason: str, received_at: datetime) -> None:
        self._dead_letters.append(dead_letter_row(topic=topic, payload=payload, reason=reason, received_at=received_at))

    def flush(self) -> list[tuple[T, bool]]:
        """Write the segment; each tag in order, with False for a message another gateway stored first."""
        items, messages, dead = self._items, self._messages, self._dead_letters
        self._items, self._messages, self._dead_letters = [], [], []
        self.clears_pending = False
        session = self._session
        session.flush()  # ORM writes of earlier segments (agent status) go first, as they came first
        inserted = bulk.insert_messages(session=session, rows=messages)
        kept: list[tuple[T, bool]] = []
        stored: list[_Sequenced] = []
        for tag, sequenced in items:
            if sequenced is None:
                kept.append((tag, True))
            elif sequenced.key in inserted:
                kept.append((tag, True))
                stored.append(sequenced)
            else:
                kept.append((tag, False))
        _write_projections(session, stored)
        bulk.insert_rows(session=session, table=bulk.DEAD_LETTERS, rows=dead)
        return kept


def _write_projections(session: Session, stored: Sequence[_Sequenced]) -> None:
    state_changes: list[Row] = []
    cycles: list[Row] = []
    parts: list[Row] = []
    alarms: list[Row] = []
    clears: list[tuple[int, contract.AlarmCleared]] = []
    for item in stored:
        machine_id, (agent_id, _) = item.machine_id, item.key
        match item.message:
            case contract.StateChanged() as m:
                state_changes.append(_state_change_row(machine_id, m))
            case contract.CycleEnded() as m:
                cycles.append(_cycle_row(machine_id, agent_id, m))
            case contract.PartCounted() as m:
                parts.append(_part_row(machine_id, agent_id, m))
            case contract.AlarmRaised() as m:
                alarms.append(_alarm_row(machine_id, m))
            case contract.AlarmCleared() as m:
                clears.append((machine_id, m))
            case _:
                pass  # snapshots fold into machines below; cycle_started and program_changed only in messages
    bulk.insert_rows(session=session, table=bulk.STATE_CHANGES, rows=state_changes)
    bulk.insert_rows(session=session, table=bulk.CYCLES, rows=cycles)
    bulk.insert_rows(session=session, table=bulk.PART_COUNTS, rows=parts)
    bulk.insert_rows(session=session, table=bulk.ALARMS, rows=alarms)
    _update_machines(session, stored)
    for machine_id, clear in clears:  # after the inserts: a clear sees the alarms raised before it
        bulk.clear_alarm(session=session, machine_id=machine_id, code=clear.code, ts=clear.ts)


def _update_machines(session: Session, stored: Sequence[_Sequenced]) -> None:
    """Fold snapshots and part counters into each machine's row, in batch order, as one write per machine."""
    snapshots = {item.machine_id for item in stored if isinstance(item.message, contract.StateMessage)}
    held = bulk.machine_state_times(session=session, machine_ids=snapshots)
    changes: dict[int, Row] = {}
    for item in stored:
        message = item.message
        if isinstance(message, contract.StateMessage):
            current = held.get(item.machine_id)
            if current is not None and current > message.ts:
                continue  # a replayed older snapshot only lands in ``messages``
            held[item.machine_id] = message.ts
            values = changes.setdefault(item.machine_id, {})
            values["last_state"] = message.state.model_dump(mode="json")
            values["last_state_seq"] = message.seq
            values["last_state_ts"] = message.ts
            if message.state.part_count is not None:
                values["part_counter"] = message.state.part_count
        elif isinstance(message, contract.PartCounted) and message.counter is not None:
            changes.setdefault(item.machine_id, {})["part_counter"] = message.counter
    bulk.update_machines(session=session, changes=changes)


def _state_change_row(machine_id: int, m: contract.StateChanged) -> Row:
    return {
        "machine_id": machine_id,
        "ts": m.ts,
        "availability": m.availability.value,
        "execution": None if m.execution is None else m.execution.value,
        "mode": None if m.mode is None else m.mode.value,
    }


def _cycle_row(machine_id: int, agent_id: int, m: contract.CycleEnded) -> Row:
    return {
        "machine_id": machine_id,
        "agent_id": agent_id,
        "seq": m.seq,
        "program": m.program,
        "kind": m.kind.value,
        "started": m.started,
        "ended": m.ts,
        "duration_s": m.duration_s,
        "held_s": m.held_s,
        "parts": m.parts,
        "outcome": m.outcome.value,
    }


def _part_row(machine_id: int, agent_id: int, m: contract.PartCounted) -> Row:
    return {
        "machine_id": machine_id,
        "agent_id": agent_id,
        "seq": m.seq,
        "ts": m.ts,
        "count": m.count,
        "counter": m.counter,
        "program": m.program,
    }


def _alarm_row(machine_id: int, m: contract.AlarmRaised) -> Row:
    return {
        "machine_id": machine_id,
        "ts": m.ts,
        "code": m.alarm.code,
        "message": m.alarm.message,
        "severity": m.alarm.severity.value,
        "cleared": None,
    }
