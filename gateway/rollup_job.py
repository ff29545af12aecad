"""The gateway's hourly summaries job (issue 18): settle the day summaries, summarise the finished days of
every machine not summarised yet (all of a store's history at the first round after an upgrade, in the
background; the days since the last round after that), then apply raw retention (``store.raw_retention``).

Readers keep the summaries correct by themselves (``store.summaries_repo``); this job only does ahead of
time what the first reader of the morning would otherwise do, moves the watermarks on when no page is read,
and runs the retention purge. A store that does not answer is logged and tried again at the next round; it
never stops the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gateway.config import RecordsSection
from gateway.errors import RecordsError
from gateway.store.db import Database, Db
from gateway.store.models import Machine
from gateway.store.month_sums_job import keep_month_sums
from gateway.store.raw_retention import Purged, purge_raw, summarise_span
from gateway.store.reports_repo import site_zone
from gateway.store.summaries_repo import settle

logger = logging.getLogger(__name__)

EVERY_S = 3600.0
FIRST_AFTER_S = 60.0  # the first round waits for the gateway to be up: it never delays start-up
BACKFILL_DAYS = 4 * 366  # how far back finished days are summarised ahead of the readers


def utc_now() -> datetime:
    return datetime.now(UTC)


def one_round(database: Database, records: RecordsSection, now: datetime) -> Purged:
    """Settle, summarise each machine's finished days (``summarise_history``), purge; in short transactions."""
    try:
        with database.transaction() as db:
            settle(db, zone=records.timezone)
        summarise_history(database, records, now)
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
