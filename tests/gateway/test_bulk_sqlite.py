"""SQLite's fast path (``gateway.store.bulk_sqlite``) stores exactly what SQLAlchemy's Core statements store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, text

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
