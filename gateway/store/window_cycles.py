"""The cycles of many machines that ended in one window, each with its owner, and the parts counted in it: what
a machine's day figures need of its production (``day_figures.CycleEnd``), read in a few statements for every
machine at once.

``attribution_repo.attribute`` answers more: each part's owner, and so the cycles running past the window
for the parts they made, in a few statements per machine (today's part of a week's report of 20 machines:
~100 statements). A day's figures count parts by their time alone and need only each ended cycle's owner:
a master's assignment, else the session open for the longest part of it
(``attribution.MachineSessions.cycle_owner``), which looks only at the sessions that overlap the cycle. Those
are read here for all the machines at once: every session that overlaps the window's cycles, from the
earliest start among them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.domain.attribution import MachineSessions
from gateway.domain.day_figures import CycleEnd
from gateway.domain.model import WorkSession
from gateway.store.machines_repo import machine_key
from gateway.store.models import Cycle, CycleAssignment, Machine, PartCount, WorkSessionRecord
from gateway.store.rows import chunks
from gateway.store.sites_repo import ALL_SITES


def ended_in(
    db: Session, machines: Sequence[Machine], lo: datetime, hi: datetime
) -> tuple[dict[int, list[CycleEnd]], dict[int, list[tuple[datetime, int]]]]:
    """Per machine: the cycles that ended in [lo, hi) with their owners, and the parts counted in [lo, hi)."""
    ids = sorted(m.id for m in machines)
    rows: list[tuple[int, int, datetime, datetime, str, int]] = []
    parts: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for chunk in chunks(ids):
        stmt = select(Cycle.id, Cycle.machine_id, Cycle.started, Cycle.ended, Cycle.outcome, Cycle.parts).where(
            Cycle.machine_id.in_(chunk), Cycle.ended >= lo, Cycle.ended < hi
        )
        rows += [tuple(row) for row in db.execute(stmt)]  # type: ignore[misc]
        counted = select(PartCount.machine_id, PartCount.ts, PartCount.count).where(
            PartCount.machine_id.in_(chunk), PartCount.ts >= lo, PartCount.ts < hi
        )
        for machine_id, ts, count in db.execute(counted):
            parts[machine_id].append((ts, count))
    assigned = _assigned(db, [row[0] for row in rows])
    sessions = _sessions(db, machines, rows, hi)
    cycles: dict[int, list[CycleEnd]] = defaultdict(list)
    for cycle_id, machine_id, started, ended, outcome, made in rows:
        owner = assigned.get(cycle_id)
        if owner is None:
            found = sessions[machine_id].cycle_owner(started=started, ended=ended)
            owner = None if found is None else found.id
        cycles[machine_id].append(CycleEnd(ended, outcome == "completed", made, owner))
    return cycles, parts


def _assigned(db: Session, cycle_ids: list[int]) -> dict[int, int]:
    """Cycle id → the session a master assigned it to. Every site's rows: the cycles were read under the
    request's site restriction already, and a cycle is only ever assigned to a session of its own machine."""
    found: dict[int, int] = {}
    for chunk in chunks(sorted(cycle_ids)):
        stmt = (
            select(CycleAssignment.cycle_id, CycleAssignment.session_id)
            .where(CycleAssignment.cycle_id.in_(chunk))
            .execution_options(**ALL_SITES)
        )
        found.update((cycle_id, session_id) for cycle_id, session_id in db.execute(stmt))
    return found


def _sessions(
    db: Session, machines: Sequence[Machine], rows: list[tuple[int, int, datetime, datetime, str, int]], hi: datetime
) -> dict[int, MachineSessions]:
    """Per machine, its sessions that overlap any of ``rows`` (from the earliest start among them to ``hi``)."""
    keys = {m.id: machine_key(m) for m in machines}
    by_machine: dict[int, list[WorkSession]] = {machine_id: [] for machine_id in keys}
    if rows:
        earliest = min(row[2] for row in rows)
        columns = (WorkSessionRecord.id, WorkSessionRecord.machine_id, WorkSessionRecord.student_id,
                   WorkSessionRecord.order_id, WorkSessionRecord.started, WorkSessionRecord.ended)  # fmt: skip
        for chunk in chunks(sorted(keys)):
            stmt = select(*columns).where(
                WorkSessionRecord.machine_id.in_(chunk),
                WorkSessionRecord.started <= hi,
                or_(WorkSessionRecord.ended.is_(None), WorkSessionRecord.ended >= earliest),
            )
            for session_id, machine_id, student_id, order_id, started, ended in db.execute(stmt):
                by_machine[machine_id].append(
                    WorkSession(session_id, keys[machine_id], student_id, order_id, started, ended)
                )
    return {machine_id: MachineSessions(found, keys[machine_id]) for machine_id, found in by_machine.items()}
