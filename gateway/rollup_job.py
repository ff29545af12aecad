"""The gateway's hourly summaries job (issue 18): settle the day summaries, summarise the finished days of
every machine not summarised yet (all of a store's history at the first round after an upgrade, in the
background; the days since the last round after that), prepare the finished work sessions' rows
(``session_cycles``: what a practice log, the orders CSV and the practice-logs CSV take of each session) that
are missing or stale, within ``[records] summary_budget_s`` a round, then apply raw retention
(``store.raw_retention``).

Sessions are prepared before the purge: a row computed from every raw row. One whose raw rows a purge took
later can still be computed again, to the same figures: retention keeps the cycles and part counts a session
owns, and its stops come from its days' summaries, final by then.

Readers keep the summaries correct by themselves (``store.summaries_repo``); this job only does ahead of
time what the first reader of the morning would otherwise do, moves the watermarks on when no page is read,
and runs the retention purge. A store that does not answer is logged and tried again at the next round; it
never stops the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gateway.config import RecordsSection
from gateway.errors import RecordsError
from gateway.store.db import Database, Db
from gateway.store.models import Machine, WorkSessionRecord
from gateway.store.month_sums_job import keep_month_sums
from gateway.store.raw_retention import Purged, purge_raw, summarise_span
from gateway.store.reports_repo import session_work, site_zone
from gateway.store.session_backlog import CHUNK, due_chunks
from gateway.store.summaries_repo import settle

logger = logging.getLogger(__name__)

EVERY_S = 3600.0
FIRST_AFTER_S = 60.0  # the first round waits for the gateway to be up: it never delays start-up
BACKFILL_DAYS = 4 * 366  # how far back finished days are summarised ahead of the readers


def utc_now() -> datetime:
    return datetime.now(UTC)


def one_round(database: Database, records: RecordsSection, now: datetime) -> Purged:
    """Settle, summarise each machine's finished days (``summarise_history``), prepare the finished sessions'
    rows (``prepare_sessions``), purge; in short transactions."""
    try:
        with database.transaction() as db:
            settle(db, zone=records.timezone)
        summarise_history(database, records, now)
        try:
            prepare_sessions(database, records, now)
        except (SQLAlchemyError, RecordsError) as err:  # the purge does not depend on them: it still runs
            logger.warning("session summaries not prepared this round: %s", err)
        return purge_raw(database=database, records=records, now=now)
    except (SQLAlchemyError, RecordsError) as err:
        logger.warning("day summaries and raw retention not run this round: %s", err)
        return Purged()


def summarise_history(database: Database, records: RecordsSection, now: datetime, *, days: int = BACKFILL_DAYS) -> int:
    """Store every machine's missing or stale summaries of its finished days, newest first, up to ``days``
    back, a month per transaction; the days already current cost a read of their rows. Returns the machines."""
    with database.reading() as db:
        ids = list(db.scalars(select(Machine.id).order_by(Machine.id)))
    for machine_id in ids:
        with database.reading() as db:
            machine = db.get_one(Machine, machine_id)
            zone = _zone(db, machine, records)
        today = now.astimezone(zone).date()
        first = max(machine.first_seen.astimezone(zone).date(), today - timedelta(days=days))
        summarise_span(database, machine_id, first, today - timedelta(days=1), records.timezone)
        keep_month_sums(database, machine_id, first, today - timedelta(days=1), records.timezone)
    return len(ids)


@dataclass(frozen=True, slots=True)
class Prepared:
    sessions: int  # prepared this round
    left: int  # still missing or stale, as far as this round knows: the next rounds' work
    seconds: float


def prepare_sessions(
    database: Database,
    records: RecordsSection,
    now: datetime,
    *,
    clock: Callable[[], float] = time.monotonic,
    chunk: int = CHUNK,
) -> Prepared:
    """Compute and keep the rows of the finished sessions that have none current (``session_backlog``), a
    chunk of one machine's sessions per read, newest first, until ``records.summary_budget_s`` is spent: at
    least one chunk a round, so a budget of 0 still moves on. Each chunk reads in its own transaction and
    ``session_work`` writes its rows in a short one of their own: ingest never waits for a chunk's reads."""
    began = clock()
    with database.reading() as db:
        chunks = due_chunks(db, now=now, zone=records.timezone, chunk=chunk)
    due = sum(len(ids) for ids in chunks)
    done = 0
    for ids in chunks:
        if done and clock() - began >= records.summary_budget_s:
            break
        with database.reading() as db:
            rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.id.in_(ids))))
            session_work(db=db, rows=sorted(rows, key=lambda r: (r.started, r.id)), now=now, zone=records.timezone)
        done += len(ids)
    prepared = Prepared(sessions=done, left=due - done, seconds=clock() - began)
    if due:
        logger.info(
            "session summaries prepared=%d left=%d in %.1f s", prepared.sessions, prepared.left, prepared.seconds
        )
    return prepared


def _zone(db: Db, machine: Machine, records: RecordsSection) -> ZoneInfo:
    return ZoneInfo(site_zone(db=db, machine=machine, zone=records.timezone))


async def run(
    database: Database,
    records: RecordsSection,
    *,
    every_s: float = EVERY_S,
    first_after_s: float = FIRST_AFTER_S,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """A round after ``first_after_s``, then every ``every_s`` seconds until cancelled (in a worker thread)."""
    await asyncio.sleep(first_after_s)
    while True:
        await asyncio.to_thread(one_round, database, records, clock())
        await asyncio.sleep(every_s)
