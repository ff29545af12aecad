"""Finished work sessions whose ``session_cycles`` row is missing or stale: what the hourly job prepares.

A practice log, the orders CSV and the practice-logs CSV take a finished session's cycles, parts, stops and
first good cycle from its kept row while it is current (``reports_repo.session_work``); a session without one is
computed on the request. After an upgrade that is every session of the store (199 s at three years of a school,
for the first practice-logs CSV), and after a late row or a correction, the sessions it touched. The job finds
them here and hands them to ``session_work`` in chunks, newest first.

"Current" is what ``session_work`` accepts without computing or storing again: a row that
``Pending.session_stale`` does not reject, with its stops kept (its days were over when stored), its totals
kept (a row kept before 0021 has none: ``session_work`` stores it again with them) and, for an order's
session, kept while the order's first session on the machine still starts where it did. The check reads the
rows' small columns only, never their cycles.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.day_figures import day_start, local_day
from gateway.store import summaries_repo
from gateway.store.models import Machine, SessionCycles, WorkSessionRecord
from gateway.store.reports_repo import days_over, kept_whole, orders_since

CHUNK = 200  # sessions per call of ``session_work``: one machine's, close in time (its reads are per machine)


def due_chunks(db: Session, *, now: datetime, zone: str, chunk: int = CHUNK) -> list[list[int]]:
    """The ids of the finished sessions whose days are over (``reports_repo.days_over``) and whose kept row is
    missing or not current, in chunks of one machine's sessions, the chunk holding the newest session first.

    One machine per chunk: ``session_work`` reads cycles per machine over its sessions' windows (neighbours
    join into one read), the stops of each machine-day once, and an order's first good cycle once per order
    and machine; a chunk of consecutive sessions of one machine shares all of these."""
    # ``days_over``: the session ended before today's local midnight (checked again row by row below).
    today = day_start(local_day(now, zone), ZoneInfo(zone))
    stmt = select(WorkSessionRecord).where(WorkSessionRecord.ended.is_not(None), WorkSessionRecord.ended < today)
    rows = list(db.scalars(stmt))
    rows = [r for r in rows if days_over(r, now, zone)]
    current = _current(db, rows)
    due: dict[int, list[WorkSessionRecord]] = defaultdict(list)
    for row in rows:
        if row.id not in current:
            due[row.machine_id].append(row)
    chunks: list[tuple[datetime, list[int]]] = []
    for mine in due.values():
        mine.sort(key=lambda r: (r.ended, r.id), reverse=True)
        for start in range(0, len(mine), chunk):
            part = mine[start : start + chunk]
            newest = part[0].ended
            assert newest is not None
            chunks.append((newest, [r.id for r in part]))
    chunks.sort(key=lambda pair: pair[0], reverse=True)
    return [ids for _, ids in chunks]


def _current(db: Session, rows: list[WorkSessionRecord]) -> set[int]:
    """The sessions among ``rows`` whose kept row ``session_work`` would take as it is."""
    seen = summaries_repo.pending(db)
    since = orders_since(db, rows)
    machines = {m.id: m for m in db.scalars(select(Machine))}
    by_id = {r.id: r for r in rows}
    columns = (
        SessionCycles.session_id,
        SessionCycles.machine_id,
        SessionCycles.first,
        SessionCycles.last,
        SessionCycles.stops,
        SessionCycles.order_since,
        SessionCycles.completed,
    )
    current: set[int] = set()
    for kept in db.execute(select(*columns)):
        row = by_id.get(kept.session_id)
        if row is None or seen.session_stale(machines[kept.machine_id], kept.first, kept.last):
            continue
        # Kept before 0021 (no totals): ``session_work`` stores it again with them.
        if kept_whole(row, kept, since) and kept.completed is not None:
            current.add(kept.session_id)
    return current
