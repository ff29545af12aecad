"""What ``/healthz`` and ``/metrics`` ask the store: does it answer, and how many dead letters does it hold."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.metrics import CachedTotal
from gateway.store.models import DeadLetter

DATABASE_TIMEOUT_S = 2.0


class DatabaseProbe:
    """``SELECT 1`` with a time limit; a probe that hangs is shared by later checks, never piled up."""

    def __init__(self, timeout_s: float = DATABASE_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._pending: asyncio.Future[None] | None = None

    async def problem(self, sessions: sessionmaker[Session]) -> str | None:
        """None when the database answers, else what is wrong, in one line."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(asyncio.to_thread(_select_one, sessions))
            # Read the outcome even when nobody waits for it any more (a check that timed out).
            self._pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._pending), self._timeout_s)
        except TimeoutError:
            return f"no answer within {self._timeout_s:g} s"
        except SQLAlchemyError as err:
            return _one_line(err)
        return None


class TableTotals:
    """Row counts for /metrics, cached: a scrape must not cost a table scan each time."""

    def __init__(self) -> None:
        self.dead_letters = CachedTotal()

    async def dead_letter_count(self, sessions: sessionmaker[Session]) -> int | None:
        value = self.dead_letters.fresh()
        if value is None:
            try:
                value = await asyncio.to_thread(_count_dead_letters, sessions)
            except SQLAlchemyError:
                return None  # /healthz says why; a scrape goes on without this one figure
            self.dead_letters.set(value)
        return value


def _select_one(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.execute(text("SELECT 1"))


def _count_dead_letters(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(err).__name__}: {first}"[:200]
