"""SQLite's fast path (``gateway.store.bulk_sqlite``) stores exactly what SQLAlchemy's Core statements store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text, update

from gateway.store import bulk, bulk_sqlite, db
from gateway.store.models.base import UtcDateTime

TIMES = [
    datetime(2026, 11, 25, 8, 0, tzinfo=UTC),  # no microseconds: still written, as SQLAlchemy does
    datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 11, 25, 9, 30, 1, 7, tzinfo=timezone(timedelta(hours=1))),  # another zone: stored as UTC
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),  # a year under 1000: zero-padded
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("value", TIMES)
def test_a_time_is_the_text_sqlalchemy_writes(value: datetime) -> None:
    dialect = db.make_engine("sqlite://").dialect
    processor = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    assert bulk_sqlite._utc_text(value) == processor(value)


def test_a_naive_time_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="naive"):
        bulk_sqlite._utc_text(datetime(2026, 11, 25, 8, 0))


def test_rows_are_those_a_core_insert_leaves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gateway.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    rows = [
        {
            "received_at": at,
            "topic": f"t/{n}",
            "payload": bytes([0, n, 255]),
            "payload_size": 3,
            "payload_sha256": "a" * 64,
            "reason": f"r{n}",
        }
        for n, at in enumerate(TIMES)
    ]
    with engine.begin() as conn:
        assert bulk_sqlite.insert(conn, bulk.DEAD_LETTERS, rows) == len(rows)
        conn.execute(insert(bulk.DEAD_LETTERS), [{**row, "topic": f"core/{row['topic']}"} for row in rows])
        stored = conn.execute(text("SELECT topic, received_at, payload, reason FROM dead_letters ORDER BY id")).all()
    engine.dispose()
    fast, core = stored[: len(rows)], stored[len(rows) :]
    assert [(f"core/{t}", *rest) for t, *rest in fast] == [tuple(row) for row in core]


def test_converted_columns_and_nulls_are_those_a_core_write_leaves(tmp_path: Path) -> None:
    """Times, floats given as integers and JSON go through their processors; None and the other columns as given."""
    url = f"sqlite:///{tmp_path}/gateway.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    seen = TIMES[1]
    with engine.begin() as conn:
        conn.execute(
            insert(bulk._AGENTS),
            [{"site": "s", "name": "a", "status": "online", "last_seen": seen, "contiguous_seq": None}],
        )
        machines = [
            {"site": "s", "name": f"m{n}", "agent_id": 1, "first_seen": seen, "last_seen": seen} for n in range(4)
        ]
        conn.execute(insert(bulk._MACHINES), machines)
        cycles: list[dict[str, Any]] = [
            {
                "machine_id": 1 + n % 2,
                "agent_id": 1,
                "seq": n,
                "program": None if n % 2 else f"P{n}",
                "kind": "production",
                "started": at - timedelta(seconds=30),
                "ended": at,
                "duration_s": 30 if n % 2 else 29.5,  # an integer: the float processor makes it 30.0
                "held_s": 0,
                "parts": n,
                "outcome": "completed",
            }
            for n, at in enumerate(TIMES)
        ]
        assert bulk_sqlite.insert(conn, bulk.CYCLES, cycles) == len(cycles)
        conn.execute(insert(bulk.CYCLES), [{**row, "seq": row["seq"] + 100} for row in cycles])
        state = {"execution": "ACTIVE", "part_count": 3}
        bulk_sqlite.update_by_id(conn, bulk._MACHINES, {1: {"last_state": state, "last_state_ts": TIMES[2]}})
        bulk_sqlite.update_by_id(conn, bulk._MACHINES, {2: {"last_state": None, "last_state_ts": None}})
        machines_table = bulk._MACHINES
        conn.execute(
            update(machines_table).where(machines_table.c.id == 3).values(last_state=state, last_state_ts=TIMES[2])
        )
        stored = conn.execute(text("SELECT * FROM cycles ORDER BY seq")).all()
        kept = conn.execute(text("SELECT id, last_state, last_state_ts FROM machines ORDER BY id")).all()
    engine.dispose()
    fast, core = stored[: len(cycles)], stored[len(cycles) :]
    assert [row[4:] for row in fast] == [row[4:] for row in core]  # past id, machine, agent and seq
    assert [type(row.duration_s) for row in fast] == [float] * len(cycles)
    assert kept[0][1:] == kept[2][1:]  # the fast update and SQLAlchemy's agree on JSON and times
    assert kept[1][1:] == (None, None)
    assert kept[3][1:] == (None, None)  # untouched
