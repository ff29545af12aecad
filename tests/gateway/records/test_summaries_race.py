"""Two readers storing the same day at once (PostgreSQL, where readers write in their own short transactions
side by side): the one that comes second finds the other's row on the key it inserts. What it computed is
returned all the same; its store is skipped, as for a busy store, never an error on the page.

SQLite has one writer at a time (a reader waits 250 ms for the lock, then skips): only PostgreSQL races."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import RecordsSection
from gateway.domain.day_figures import day_start, from_columns
from gateway.rollup_job import one_round
from gateway.store import summaries_repo
from gateway.store.db import Database
from gateway.store.models import MachineDay
from tests.gateway.records.test_summaries import NOW, TZ, ZONE, engine, generate, later

__all__ = ["engine"]  # the store fixture (SQLite, and PostgreSQL marked slow), used by name


def test_a_reader_storing_a_day_another_reader_just_stored_skips_it(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no two readers store at once")
    generate(engine)
    made = sessionmaker(engine, expire_on_commit=False)
    later(made)
    one_round(Database(engine), RecordsSection(timezone=ZONE), NOW)  # every finished day summarised
    with made() as db:
        row = db.scalars(select(MachineDay).order_by(MachineDay.day)).first()
        assert row is not None
        columns: dict[str, Any] = {c.name: getattr(row, c.name) for c in MachineDay.__table__.c}
    with made.begin() as db:
        db.execute(delete(MachineDay).where(MachineDay.machine_id == row.machine_id, MachineDay.day == row.day))
    start = day_start(row.day, TZ)
    figures = from_columns(start, start + timedelta(days=1), columns)

    # The other reader: its row inserted, its transaction committing a moment later.
    other = engine.connect()
    other.begin()
    other.execute(insert(MachineDay), [columns])
    threading.Timer(0.1, other.commit).start()
    try:
        with Session(engine) as db:
            seen = summaries_repo.pending(db)
            computed = summaries_repo.Computed(machine_id=row.machine_id, days={row.day: figures})
            summaries_repo.keep_computed(db, computed, seen, ZONE)  # waits on the other's key, then skips
    finally:
        other.close()
    with made() as db:
        kept = db.scalars(select(MachineDay.day).where(MachineDay.machine_id == row.machine_id)).all()
    assert row.day in kept, "the other reader's row stays"
