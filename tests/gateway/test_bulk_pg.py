"""PostgreSQL's fast path (``gateway.store.bulk_pg``): writes queued and sent in pipelines, every guarantee kept.

Against the local PostgreSQL, with real failures injected by triggers (nothing mocked): a write that
fails in a queue sent with the COMMIT still dead-letters only its message; a failure of the store
itself still holds the whole batch back, and nothing queued outlives its transaction; an explicit cast
never cuts a value the column would refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, OperationalError

from edge_agent import contract as c
from gateway.ingest.failures import store_unwell
from gateway.ingest.gaps import Gaps, GapTracker
from gateway.ingest.messages import BatchOutcome, Received
from gateway.ingest.projection import Projector
from gateway.store import bulk, bulk_pg, db
from tests.gateway.helpers import AGENT, MACHINE, T0, birth, changed, part
from tests.gateway.test_projection import cycle_ended, wire

pytestmark = pytest.mark.slow  # the local PostgreSQL


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    db.upgrade(postgres_url)
    engine = db.make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def projector(engine: Engine) -> Projector:
    projector = Projector(db.session_factory(engine))
    projector.load()
    return projector


def apply(projector: Projector, batch: list[Received]) -> BatchOutcome:
    return projector.apply(batch, gaps=Gaps(GapTracker(timeout_s=10.0), lambda: 0.0))


def select(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def refuse(engine: Engine, table: str, when: str, errcode: str) -> None:
    """A trigger that fails the insert of a row of ``table`` matching ``when`` with SQLSTATE ``errcode``."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {when} THEN RAISE EXCEPTION 'injected failure' USING ERRCODE = '{errcode}'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
            )
        )


def test_queued_writes_go_with_the_commit_and_nowhere_on_a_rollback(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk_pg.defer_writes(conn)  # make_engine installed the hooks: without them it would queue nothing
        bulk_pg.insert(conn, bulk.DEAD_LETTERS, [_dead_letter("1" * 64)])
        assert len(conn.info[bulk_pg._QUEUE]) == 1
        assert select(engine, "SELECT count(*) FROM dead_letters") == [(0,)]  # not sent yet
    assert select(engine, "SELECT payload_sha256 FROM dead_letters") == [("1" * 64,)]
    with engine.connect() as conn:
        with conn.begin() as transaction:
            bulk_pg.defer_writes(conn)
            bulk_pg.insert(conn, bulk.DEAD_LETTERS, [_dead_letter("2" * 64)])
            transaction.rollback()
        assert bulk_pg._QUEUE not in conn.info
        conn.execute(text("SELECT 1"))  # nothing left to send with the next statement
    assert select(engine, "SELECT payload_sha256 FROM dead_letters") == [("1" * 64,)]


def test_a_row_failing_in_the_queue_sent_with_the_commit_dead_letters_its_message_only(
    projector: Projector, engine: Engine
) -> None:
    refuse(engine, "cycles", "NEW.program = 'BOOM'", "check_violation")
    outcome = apply(
        projector, [wire(birth()), wire(cycle_ended(1)), wire(cycle_ended(2, program="BOOM")), wire(cycle_ended(3))]
    )
    assert (outcome.dead_letters, outcome.replays) == (1, 1)  # the bulk write failed at COMMIT, then one by one
    assert select(engine, "SELECT seq FROM cycles ORDER BY seq") == [(1,), (3,)]
    assert select(engine, "SELECT seq FROM messages ORDER BY seq") == [(1,), (2,), (3,)]
    ((reason,),) = select(engine, "SELECT reason FROM dead_letters")
    assert "projection failed: IntegrityError" in reason
    assert "injected failure" in reason


def test_a_machine_update_failing_in_the_queue_dead_letters_its_message_only(
    projector: Projector, engine: Engine
) -> None:
    refuse(engine, "machines", "NEW.part_counter = 666", "check_violation")
    outcome = apply(projector, [wire(birth()), wire(part(1, counter=665)), wire(part(2, counter=666))])
    assert outcome.dead_letters == 1
    assert select(engine, "SELECT seq FROM part_counts ORDER BY seq") == [(1,)]
    assert select(engine, "SELECT part_counter FROM machines") == [(665,)]


def test_a_store_failure_in_the_queue_holds_the_batch_back_and_nothing_queued_survives_it(
    projector: Projector, engine: Engine
) -> None:
    refuse(engine, "part_counts", "true", "disk_full")  # class 53: the store's, not the message's
    with pytest.raises(OperationalError, match="injected failure") as raised:
        apply(projector, [wire(birth()), wire(part(1)), wire(part(2))])
    assert store_unwell(raised.value)
    assert select(engine, "SELECT count(*) FROM messages") == [(0,)]
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_part_counts ON part_counts"))
    # The same pooled connection again: the retried batch is written once, nothing left over from the failure.
    outcome = apply(projector, [wire(birth()), wire(part(1)), wire(part(2))])
    assert (len(outcome.accepted), outcome.dead_letters, outcome.replays) == (3, 0, 0)
    assert select(engine, "SELECT seq FROM part_counts ORDER BY seq") == [(1,), (2,)]
    assert select(engine, "SELECT seq FROM messages ORDER BY seq") == [(1,), (2,)]


def test_writes_queued_before_an_orm_write_and_an_alarm_clear_land_before_them(
    projector: Projector, engine: Engine
) -> None:
    raised = c.Alarm(code="A1", message="Door open", severity=c.Severity.WARNING)
    batch = [
        wire(birth()),
        wire(c.AlarmRaised(agent=AGENT, machine=MACHINE, seq=1, ts=T0, alarm=raised)),
        wire(changed(2, c.Execution.READY)),
        wire(c.AlarmCleared(agent=AGENT, machine=MACHINE, seq=3, ts=T0 + timedelta(seconds=3), code="A1")),
        wire(c.AgentStatus(agent=AGENT, ts=T0 + timedelta(seconds=4), status="offline")),
        wire(c.AlarmRaised(agent=AGENT, machine=MACHINE, seq=4, ts=T0 + timedelta(seconds=5), alarm=raised)),
    ]
    outcome = apply(projector, batch)
    assert (outcome.dead_letters, outcome.replays) == (0, 0)
    # The clear saw the alarm queued before it; the alarm raised after it stays open.
    assert select(engine, "SELECT code, cleared IS NOT NULL FROM alarms ORDER BY ts") == [("A1", True), ("A1", False)]
    # The agent's will (an ORM write) came after the READY queued before it.
    assert select(engine, "SELECT availability, execution FROM state_changes ORDER BY id") == [
        ("AVAILABLE", "READY"),
        ("UNAVAILABLE", None),
    ]


def test_a_value_too_long_for_its_column_is_refused_not_cut(engine: Engine) -> None:
    # The arrays are cast to the column's type without its length: the insert checks it, as any insert would.
    with engine.begin() as conn:
        bulk_pg.insert(conn, bulk.DEAD_LETTERS, [_dead_letter("a" * 64)])
    with pytest.raises(DataError, match="too long"), engine.begin() as conn:
        bulk_pg.insert(conn, bulk.DEAD_LETTERS, [_dead_letter("a" * 65)])
    assert select(engine, "SELECT length(payload_sha256) FROM dead_letters") == [(64,)]


def _dead_letter(sha: str) -> dict[str, Any]:
    return {
        "received_at": T0,
        "topic": "t",
        "payload": b"\x00\xff",
        "payload_size": 2,
        "payload_sha256": sha,
        "reason": "r",
    }
