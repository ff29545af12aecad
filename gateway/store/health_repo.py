"""What ``/healthz`` and ``/metrics`` ask the store: does it answer, how many dead letters does it hold.

A failure comes back as ``StoreError`` saying what is wrong in one line (``OperationalError: ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import StoreError
from gateway.store.db import Database
from gateway.store.models import DeadLetter


def check_answers(database: Database) -> None:
    """``SELECT 1``; raises StoreError when the database does not answer."""
    with _one_line_errors(), database.sessions() as db:
        db.execute(text("SELECT 1"))


def dead_letter_count(database: Database) -> int:
    with _one_line_errors(), database.sessions() as db:
        return int(db.scalar(select(func.count()).select_from(DeadLetter)) or 0)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as err:
        lines = str(err).strip().splitlines()
        first = lines[0] if lines else ""
        raise StoreError(f"{type(err).__name__}: {first}"[:200]) from err
