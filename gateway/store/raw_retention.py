"""Retention of raw rows: state changes, cycles and part counts past ``[records] raw_*_retention_days``.

Before a machine's raw rows of old days go, every one of those days has its summary
(``machine_days``), made ``final``: the utilisation, OEE and stops pages show those
days from it, and no late row or calendar change makes it stale any more (there would
be nothing left to recompute it from). Deletion runs in bounded batches, one
transaction each, so ingest is never held up for long.

What is kept, whatever the setting:
- each machine's last state change before the cut: the state the next day starts in;
- cycles a work session owns (overlapping one of the machine's sessions, or assigned to
  one by a master) or a first-part approval names, and part counts made in a kept cycle or
  during a session: a student's practice log and an order's progress are computed from
  them for as long as the session exists (``records.retention_days`` detaches practice
  logs from their students; the sessions stay, for the orders). Telemetry retention
  thus deletes what no one was recorded at: a machine run with nobody checked in.
- alarms (few), and the row with the highest id of each table (SQLite would reuse ids, which
  the summaries' watermarks rely on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from gateway.config import RecordsSection
from gateway.domain.day_figures import day_start
from gateway.store.db import Database
from gateway.store.models import (
    Cycle,
    CycleAssignment,
    FirstPartApproval,
    Machine,
    MachineDay,
    PartCount,
    StateChange,
    WorkSessionRecord,
)
from gateway.store.reports_repo import site_zone, summarise
from gateway.store.rows import chunks
from gateway.store.summaries_repo import days_present, make_final

logger = logging.getLogger(__name__)

BATCH = 5_000  # rows deleted per transaction
CHUNK_DAYS = 31  # days summarised per transaction


@dataclass
class Purged:
    state_changes: int = 0
    cycles: int = 0
    part_counts: int = 0
    machines_skipped: int = 0  # whose old days could not all be summarised this round


@dataclass(frozen=True, slots=True)
class _Cuts:
    final_before: date  # days before this one lose raw rows: their summaries are final
    state: datetime | None  # state changes before this instant go
    telemetry: datetime | None


def _cuts(records: RecordsSection, now: datetime, zone: str) -> _Cuts | None:
    tz = ZoneInfo(zone)
    days = {
        kind: None if keep is None else (now - timedelta(days=keep)).astimezone(tz).date()
        for kind, keep in (
            ("state", records.raw_state_retention_days),
            ("telemetry", records.raw_telemetry_retention_days),
        )
    }
    chosen = [d for d in days.values() if d is not None]
    if not chosen:
        return None
    return _Cuts(
        final_before=max(chosen),
        state=None if days["state"] is None else day_start(days["state"], tz),
        telemetry=None if days["telemetry"] is None else day_start(days["telemetry"], tz),
    )


def purge_raw(*, database: Database, records: RecordsSection, now: datetime) -> Purged:
    """Apply the raw retention settings to every machine; nothing when both are off."""
    purged = Purged()
    if records.raw_state_retention_days is None and records.raw_telemetry_retention_days is None:
        return purged
    with database.reading() as db:
        machines = list(db.scalars(select(Machine).order_by(Machine.id)))
    for machine in machines:
        with database.reading() as db:
            cuts = _cuts(records, now, site_zone(db=db, machine=machine, zone=records.timezone))
        if cuts is None:
            continue
        if not _summarised(database, machine, cuts.final_before, records.timezone):
            purged.machines_skipped += 1
            continue
        with database.transaction() as db:
            make_final(db, [machine.id], cuts.final_before)
        if cuts.state is not None:
            purged.state_changes += _in_batches(database, lambda db, m=machine, c=cuts.state: _old_states(db, m, c))
        if cuts.telemetry is not None:
            purged.cycles += _in_batches(database, lambda db, m=machine, c=cuts.telemetry: _old_cycles(db, m, c))
            purged.part_counts += _in_batches(database, lambda db, m=machine, c=cuts.telemetry: _old_parts(db, m, c))
    if purged.state_changes or purged.cycles or purged.part_counts:
        logger.info(
            "raw retention purge state_changes=%d cycles=%d part_counts=%d",
            purged.state_changes,
            purged.cycles,
            purged.part_counts,
        )
    return purged


def _summarised(database: Database, machine: Machine, before: date, zone: str) -> bool:
    """Summarise the machine's days before ``before`` not yet final, a month per transaction; whether all are."""
    with database.reading() as db:
        tz = ZoneInfo(site_zone(db=db, machine=machine, zone=zone))
        final = db.scalar(
            select(func.max(MachineDay.day)).where(MachineDay.machine_id == machine.id, MachineDay.final.is_(True))
        )
        earliest = db.scalar(select(func.min(StateChange.ts)).where(StateChange.machine_id == machine.id))
        cycled = db.scalar(select(func.min(Cycle.started)).where(Cycle.machine_id == machine.id))
    starts = [t for t in (machine.first_seen, earliest, cycled) if t is not None]
    first = min(t.astimezone(tz).date() for t in starts)
    if final is not None:
        first = max(first, final + timedelta(days=1))
    summarise_span(database, machine.id, first, before - timedelta(days=1), zone)
    if first >= before:
        return True
    with database.reading() as db:
        present = days_present(db, machine.id, first, before - timedelta(days=1))
    return len(present) == (before - first).days


def summarise_span(database: Database, machine_id: int, first: date, last: date, zone: str) -> None:
    """``reports_repo.summarise`` of the days [first, last], newest first, a month per transaction."""
    while last >= first:
        since = max(first, last - timedelta(days=CHUNK_DAYS - 1))
        with database.transaction() as db:
            summarise(db=db, machine=db.get_one(Machine, machine_id), first=since, last=last, zone=zone)
        last = since - timedelta(days=1)


def _in_batches(database: Database, victims: Any) -> int:
    """Delete ``victims(db)`` (a select of ids) a batch per transaction, until none is left."""
    total = 0
    while True:
        with database.transaction() as db:
            stmt, model = victims(db)
            ids = list(db.scalars(stmt.limit(BATCH)))
            for chunk in chunks(ids):
                db.execute(delete(model).where(model.id.in_(chunk)))
        total += len(ids)
        if len(ids) < BATCH:
            return total


def _newest(db: Session, model: Any) -> int:
    return int(db.scalar(select(func.max(model.id))) or 0)


def _old_states(db: Session, machine: Machine, before: datetime) -> tuple[Any, Any]:
    last = db.scalar(
        select(StateChange.ts)
        .where(StateChange.machine_id == machine.id, StateChange.ts < before)
        .order_by(StateChange.ts.desc(), StateChange.id.desc())
        .limit(1)
    )
    cut = before if last is None else last  # the last one before the cut stays: the next day starts in it
    stmt = select(StateChange.id).where(
        StateChange.machine_id == machine.id, StateChange.ts < cut, StateChange.id < _newest(db, StateChange)
    )
    return stmt, StateChange


def _session_over(machine_id: Any, start: Any, end: Any) -> Any:
    return exists().where(
        WorkSessionRecord.machine_id == machine_id,
        WorkSessionRecord.started <= end,
        or_(WorkSessionRecord.ended.is_(None), WorkSessionRecord.ended >= start),
    )


def _old_cycles(db: Session, machine: Machine, before: datetime) -> tuple[Any, Any]:
    stmt = select(Cycle.id).where(
        Cycle.machine_id == machine.id,
        Cycle.ended < before,
        Cycle.id < _newest(db, Cycle),
        ~_session_over(Cycle.machine_id, Cycle.started, Cycle.ended),
        ~exists().where(CycleAssignment.cycle_id == Cycle.id),
        ~exists().where(FirstPartApproval.cycle_id == Cycle.id),
    )
    return stmt, Cycle


def _old_parts(db: Session, machine: Machine, before: datetime) -> tuple[Any, Any]:
    kept_cycle = exists().where(
        Cycle.machine_id == PartCount.machine_id, and_(Cycle.started <= PartCount.ts, Cycle.ended >= PartCount.ts)
    )
    stmt = select(PartCount.id).where(
        PartCount.machine_id == machine.id,
        PartCount.ts < before,
        PartCount.id < _newest(db, PartCount),
        ~kept_cycle,
        ~_session_over(PartCount.machine_id, PartCount.ts, PartCount.ts),
    )
    return stmt, PartCount
