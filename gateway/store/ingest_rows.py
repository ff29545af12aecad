"""The row an ingested message gives in each table: one builder per table. Pure.

Both ways of writing a batch use these, the bulk write (a table at a time) and
the one-message path that isolates a message at fault (``gateway.ingest.writer``),
so that a message leaves the same rows whichever way it was written. Rows are
plain dicts keyed by column name, for ``gateway.store.bulk``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from edge_agent import contract

Row = dict[str, Any]

MAX_REASON_CHARS = 2000
# A dead letter keeps what a person needs to see what was wrong, not what an attacker chose to send:
# the first few KiB of the payload, its full size and its SHA-256 (to match it with the sender's copy).
DEAD_LETTER_PREFIX_BYTES = 4096
MAX_TOPIC_CHARS = 512


def message_kind(message: contract.SequencedMessage) -> str:
    """The ``type`` column of ``messages``: a state snapshot's kind, or an event's type."""
    return message.kind if isinstance(message, contract.StateMessage) else message.type


def message_row(*, agent_id: int, machine_id: int, message: contract.SequencedMessage, received_at: datetime) -> Row:
    """``messages``: one per sequenced message; its (agent_id, seq) key is the dedupe."""
    return {
        "agent_id": agent_id,
        "seq": message.seq,
        "machine_id": machine_id,
        "type": message_kind(message),
        "ts": message.ts,
        "received_at": received_at,
    }


def state_change_row(
    *, machine_id: int, ts: datetime, availability: str, execution: str | None, mode: str | None
) -> Row:
    """``state_changes``: from a state_changed event, or an agent's Last Will (UNAVAILABLE)."""
    return {"machine_id": machine_id, "ts": ts, "availability": availability, "execution": execution, "mode": mode}


def state_changed_row(machine_id: int, m: contract.StateChanged) -> Row:
    return state_change_row(
        machine_id=machine_id,
        ts=m.ts,
        availability=m.availability.value,
        execution=None if m.execution is None else m.execution.value,
        mode=None if m.mode is None else m.mode.value,
    )


def cycle_row(machine_id: int, agent_id: int, m: contract.CycleEnded) -> Row:
    """``cycles``: written at the cycle's end, which carries its start."""
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


def part_count_row(machine_id: int, agent_id: int, m: contract.PartCounted) -> Row:
    return {
        "machine_id": machine_id,
        "agent_id": agent_id,
        "seq": m.seq,
        "ts": m.ts,
        "count": m.count,
        "counter": m.counter,
        "program": m.program,
    }


def alarm_row(machine_id: int, m: contract.AlarmRaised) -> Row:
    """``alarms``: open until an alarm_cleared of the same code sets ``cleared``."""
    return {
        "machine_id": machine_id,
        "ts": m.ts,
        "code": m.alarm.code,
        "message": m.alarm.message,
        "severity": m.alarm.severity.value,
        "cleared": None,
    }


def snapshot_columns(m: contract.StateMessage) -> Row:
    """The columns of ``machines`` a state snapshot sets (when it is the newest by source time)."""
    columns: Row = {"last_state": m.state.model_dump(mode="json"), "last_state_seq": m.seq, "last_state_ts": m.ts}
    if m.state.part_count is not None:
        columns["part_counter"] = m.state.part_count
    return columns


def counter_columns(m: contract.PartCounted) -> Row:
    """The columns of ``machines`` a part count sets: the control's counter, when it has one."""
    return {} if m.counter is None else {"part_counter": m.counter}


def dead_letter_row(*, topic: str, payload: bytes, reason: str, received_at: datetime) -> Row:
    """``dead_letters``: the bounded row of a refused message."""
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
