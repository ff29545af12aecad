"""The gateway's periodic task that ends work sessions left open past closing time (``store.closing_repo``).

It runs once before the gateway serves (so a gateway that was down for days closes the
sessions it missed at their own closing hours, not at its restart) and then every
``SWEEP_EVERY_S``: a session is ended at most that long after its closing hour. A store
that does not answer is logged and tried again at the next round; it never stops the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import RecordsError
from gateway.store.closing_repo import close_overdue
from gateway.store.db import Database

logger = logging.getLogger(__name__)

SWEEP_EVERY_S = 300.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def sweep(database: Database, zone: str, clock: Callable[[], datetime] = utc_now) -> int:
    """One round, in its own transaction: the number of sessions ended."""
    try:
        with database.transaction() as db:
            return len(close_overdue(db=db, now=clock(), zone=zone))
    except (SQLAlchemyError, RecordsError) as err:
        logger.warning("open sessions not checked against closing time this round: %s", err)
        return 0


async def run(
    database: Database, zone: str, *, every_s: float = SWEEP_EVERY_S, clock: Callable[[], datetime] = utc_now
) -> None:
    """Sweep every ``every_s`` seconds until cancelled (in a worker thread: the store blocks); the gateway
    runs the first round itself, before it serves."""
    while True:
        await asyncio.sleep(every_s)
        await asyncio.to_thread(sweep, database, zone, clock)
