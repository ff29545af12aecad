"""What ``/healthz`` and ``/metrics`` ask the store, with a time limit and a cache (the queries: ``health_repo``)."""

from __future__ import annotations

import asyncio

from gateway.errors import StoreError
from gateway.metrics import CachedTotal
from gateway.store import health_repo
from gateway.store.db import Database

DATABASE_TIMEOUT_S = 2.0


class DatabaseProbe:
    """``SELECT 1`` with a time limit; a probe that hangs is shared by later checks, never piled up."""

    def __init__(self, timeout_s: float = DATABASE_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._pending: asyncio.Future[None] | None = None

    async def problem(self, database: Database) -> str | None:
        """None when the database answers, else what is wrong, in one line."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(asyncio.to_thread(health_repo.check_answers, database))
            # Read the outcome even when nobody waits for it any more (a check that timed out).
            self._pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._pending), self._timeout_s)
        except TimeoutError:
            return f"no answer within {self._timeout_s:g} s"
        except StoreError as err:
            return str(err)
        return None


class TableTotals:
    """Row counts for /metrics, cached: a scrape must not cost a table scan each time."""

    def __init__(self) -> None:
        self.dead_letters = CachedTotal()

    async def dead_letter_count(self, database: Database) -> int | None:
        value = self.dead_letters.fresh()
        if value is None:
            try:
                value = await asyncio.to_thread(health_repo.dead_letter_count, database)
            except StoreError:
                return None  # /healthz says why; a scrape goes on without this one figure
            self.dead_letters.set(value)
        return value
