"""One batch, one transaction: rows for valid messages, dedupe by (agent, seq), a dead letter for the rest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from edge_agent import contract as c
from gateway.ingest.failures import store_unwell
from gateway.ingest.gaps import Gaps, GapTracker
from gateway.ingest.messages import Received
from gateway.ingest.projection import Projector
from gateway.store import bus_repo, db
from tests.gateway.helpers import AGENT, MACHINE, SITE, T0, birth, changed, count, part, rows, state

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def new_gaps() -> Gaps:
    return Gaps(GapTracker(timeout_s=10.0), lambda: 0.0)


def received(topic: str, payload: bytes, *, retain: bool = False) -> Received:
    return Received(topic=topic, payload=payload, mid=1, qos=1, retain=retain, generation=1, received_at=NOW)


def wire(message: c.Message, *, site: str = SITE, retain: bool = False) -> Received:
    match message:
        case c.AgentStatus():
            topic = c.agent_topic(site, message.agent, "status")
        case c.StateMessage():
            topic = c.machine_topic(site, message.machine, "state")
        case c.Telemetry():
            topic = c.machine_topic(site, message.machine, "telemetry")
        case _:
            topic = c.machine_topic(site, message.machine, "event")  # type: ignore[union-attr]
    return received(topic, c.encode(message), retain=retain)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def projector(db_path: Path) -> Iterator[Projector]:
    engine = db.make_engine(f"sqlite:///{db_path}")
    projector = Projector(db.session_factory(engine))
    projector.load()
    yield projector
    engine.dispose()


def cycle_ended(seq: int, *, program: str = "P1") -> c.CycleEnded:
    return c.CycleEnded(
        agent=AGENT,
        machine=MACHINE,
        seq=seq,
        ts=T0 + timedelta(seconds=seq),
        program=program,
        started=T0,
        duration_s=95.5,
        held_s=3.0,
        parts=1,
        outcome=c.CycleOutcome.COMPLETED,
    )


def test_birth_state_and_events_become_rows(projector: Projector, db_path: Path) -> None:
    alarm = c.Alarm(code="700012", message="Coolant level low", severity=c.Severity.WARNING)
    batch = [
        wire(birth(MACHINE, "haas-lathe-2")),
        wire(state(1, part_count=41)),
        wire(changed(2, c.Execution.FEED_HOLD)),
        wire(c.CycleStarted(agent=AGENT, machine=MACHINE, seq=3, ts=T0, program="P1")),
        wire(cycle_ended(4)),
        wire(part(5, counter=42)),
        wire(c.AlarmRaised(agent=AGENT, machine=MACHINE, seq=6, ts=T0 + timedelta(seconds=6), alarm=alarm)),
        wire(c.AlarmCleared(agent=AGENT, machine=MACHINE, seq=7, ts=T0 + timedelta(seconds=7), code="700012")),
        wire(c.Telemetry(agent=AGENT, machine=MACHINE, seq=1, ts=T0, spindle_speed=3000.0)),
    ]
    outcome = projector.apply(batch, gaps=new_gaps())
    assert (outcome.duplicates, outcome.dead_letters, len(outcome.accepted)) == (0, 0, 9)
    assert rows(db_path, "SELECT site, name, status, version FROM agents") == [(SITE, AGENT, "online", "0.1.0")]
    # haas-lathe-2 is announced but silent: a machine is created by its owner's first message on its topic.
    assert rows(db_path, "SELECT name, part_counter FROM machines ORDER BY name") == [(MACHINE, 42)]
    assert rows(db_path, "SELECT seq, type FROM messages ORDER BY seq") == [
        (1, "state"),
        (2, "state_changed"),
        (3, "cycle_started"),
        (4, "cycle_ended"),
        (5, "part_counted"),
        (6, "alarm_raised"),
        (7, "alarm_cleared"),
    ]
    assert rows(db_path, "SELECT execution, mode FROM state_changes") == [("FEED_HOLD", "AUTOMATIC")]
    assert rows(db_path, "SELECT program, duration_s, held_s, parts, outcome FROM cycles") == [
        ("P1", 95.5, 3.0, 1, "completed")
    ]
    assert rows(db_path, "SELECT seq, count, counter FROM part_counts") == [(5, 1, 42)]
    assert [(code, cleared is not None) for code, cleared in rows(db_path, "SELECT code, cleared FROM alarms")] == [
        ("700012", True)
    ]
    assert count(db_path, "dead_letters") == 0
    last_state = json.loads(rows(db_path, "SELECT last_state FROM machines WHERE name = ?", MACHINE)[0][0])
    assert c.MachineState.model_validate(last_state) == state(1, part_count=41).state


def test_duplicates_are_dropped_within_a_batch_and_across_batches(projector: Projector, db_path: Path) -> None:
    projector.apply([wire(birth()), wire(part(1)), wire(part(2)), wire(part(1))], gaps=new_gaps())
    outcome = projector.apply([wire(part(2)), wire(part(3)), wire(state(3))], gaps=new_gaps())
    assert outcome.duplicates == 2  # seq 2 again, and seq 3 twice: state and events share the sequence
    assert rows(db_path, "SELECT seq FROM part_counts ORDER BY seq") == [(1,), (2,), (3,)]
    assert count(db_path, "messages") == 3


@pytest.mark.parametrize("guarded", [False, True], ids=["bulk", "message-by-message"])
def test_a_seq_reused_for_another_message_is_a_dead_letter_not_a_duplicate(
    guarded: bool, projector: Projector, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    projector.apply([wire(birth()), wire(part(1)), wire(part(2))], gaps=new_gaps())
    # The agent's outbox was wiped: it numbers from 1 again, with new events. A trigger that refuses a
    # BOOM cycle sends the second batch down the message-by-message path (nothing is mocked).
    with db.make_engine(f"sqlite:///{db_path}").begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON cycles WHEN NEW.program = 'BOOM' "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
        )
    reused = c.PartCounted(
        agent=AGENT, machine=MACHINE, seq=1, ts=T0 + timedelta(hours=5), count=1, counter=None, program="P2"
    )
    batch = [wire(reused), wire(part(2)), wire(part(3))]
    if guarded:
        batch.append(wire(cycle_ended(4, program="BOOM")))
    outcome = projector.apply(batch, gaps=new_gaps())
    assert outcome.duplicates == 1  # seq 2: the same message again
    assert outcome.dead_letters == 1 + guarded
    (reason,) = rows(db_path, "SELECT reason FROM dead_letters WHERE reason LIKE 'seq 1 %'")[0]
    assert "already stored for another message (part_counted at 2026-11-25T08:00:01+00:00)" in reason
    assert "give the agent a new [agent] id" in reason
    assert rows(db_path, "SELECT seq FROM part_counts ORDER BY seq") == [(1,), (2,), (3,)]
    assert "reuses sequence numbers" in caplog.text


MALFORMED = {
    "invalid_json": (c.machine_topic(SITE, MACHINE, "event"), b"{not json", "not valid JSON"),
    "truncated_json": (c.machine_topic(SITE, MACHINE, "event"), c.encode(part(9))[:-12], "not valid JSON"),
    "wrong_schema": (
        c.machine_topic(SITE, MACHINE, "event"),
        c.encode(part(9)).replace(b'"schema":1', b'"schema":7'),
        "unsupported schema version 7",
    ),
    "unknown_machine": (
        c.machine_topic(SITE, "ghost-mill", "event"),
        c.encode(part(9, machine="ghost-mill")),
        "unknown machine 'ghost-mill'",
    ),
    "oversized": (
        c.machine_topic(SITE, MACHINE, "event"),
        b"{" + b" " * c.MAX_PAYLOAD_BYTES + b"}",
        "exceeds the limit",
    ),
    "outside_tree": ("factory/v9/lyon/x/event", c.encode(part(9)), "outside atelier/v1/"),
    "topic_payload_mismatch": (c.machine_topic(SITE, "haas-lathe-2", "event"), c.encode(part(9)), "does not match"),
    "invalid_field": (
        c.machine_topic(SITE, MACHINE, "event"),
        c.encode(part(9)).replace(b'"count":1', b'"count":-4'),
        "count",
    ),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_each_malformed_message_is_one_dead_letter_and_the_batch_still_commits(
    kind: str, projector: Projector, db_path: Path
) -> None:
    topic, payload, reason = MALFORMED[kind]
    outcome = projector.apply(
        [wire(birth(MACHINE, "haas-lathe-2")), received(topic, payload), wire(part(1))], gaps=new_gaps()
    )
    assert outcome.dead_letters == 1
    letters = rows(db_path, "SELECT topic, payload, reason, received_at FROM dead_letters")
    assert len(letters) == 1
    assert letters[0][0] == topic
    assert letters[0][1] == payload[:4096]  # a prefix only, with the size and hash of the whole
    assert rows(db_path, "SELECT payload_size, payload_sha256 FROM dead_letters") == [
        (len(payload), hashlib.sha256(payload).hexdigest())
    ]
    assert reason in letters[0][2]
    assert letters[0][3] is not None
    assert rows(db_path, "SELECT seq FROM part_counts") == [(1,)]


def test_a_failing_projection_dead_letters_that_message_and_keeps_the_rest(projector: Projector, db_path: Path) -> None:
    # A real database failure for one row, injected with a trigger (nothing is mocked).
    with db.make_engine(f"sqlite:///{db_path}").begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON cycles WHEN NEW.program = 'BOOM' "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
        )
    outcome = projector.apply(
        [wire(birth()), wire(cycle_ended(1)), wire(cycle_ended(2, program="BOOM")), wire(cycle_ended(3))],
        gaps=new_gaps(),
    )
    assert outcome.dead_letters == 1
    assert rows(db_path, "SELECT seq FROM cycles ORDER BY seq") == [(1,), (3,)]
    (reason,) = rows(db_path, "SELECT reason FROM dead_letters")[0]
    assert "projection failed" in reason
    assert "injected failure" in reason
    # Its seq counts as received, so the gap tracker does not ask for it again and again.
    assert rows(db_path, "SELECT seq FROM messages ORDER BY seq") == [(1,), (2,), (3,)]


def test_last_will_marks_the_agent_offline_with_one_state_change_per_machine(
    projector: Projector, db_path: Path
) -> None:
    projector.apply(
        [wire(birth(MACHINE, "haas-lathe-2")), wire(state(1)), wire(state(2, machine="haas-lathe-2"))], gaps=new_gaps()
    )
    # An agent's will may list no machines: the gateway knows which machines the agent serves.
    will = wire(c.AgentStatus(agent=AGENT, ts=T0, status="offline"))
    projector.apply([will, will], gaps=new_gaps())  # a redelivered will adds nothing
    assert rows(db_path, "SELECT status FROM agents") == [("offline",)]
    assert rows(db_path, "SELECT availability, count(*) FROM state_changes GROUP BY availability") == [
        ("UNAVAILABLE", 2)
    ]


def test_contiguous_seq_is_saved_with_the_batch(projector: Projector, db_path: Path) -> None:
    gaps = new_gaps()
    projector.apply([wire(birth()), wire(state(5), retain=True), wire(part(7)), wire(part(8))], gaps=gaps)
    assert rows(db_path, "SELECT contiguous_seq FROM agents") == [(8,)]
    projector.apply([wire(part(10))], gaps=gaps)  # 9 is missing
    assert rows(db_path, "SELECT contiguous_seq FROM agents") == [(8,)]
    projector.apply([wire(part(9))], gaps=gaps)
    assert rows(db_path, "SELECT contiguous_seq FROM agents") == [(10,)]


def test_a_failed_batch_leaves_nothing_half_written(projector: Projector, db_path: Path) -> None:
    with db.make_engine(f"sqlite:///{db_path}").begin() as conn:
        conn.execute(text("CREATE TABLE blocker (x)"))
        conn.execute(
            text("CREATE TRIGGER break_batch AFTER INSERT ON dead_letters BEGIN INSERT INTO nowhere VALUES (1); END")
        )
    with pytest.raises(Exception, match="nowhere"):
        projector.apply([wire(birth()), wire(part(1)), received("bad/topic", b"x")], gaps=new_gaps())
    assert count(db_path, "agents") == 0
    assert count(db_path, "part_counts") == 0
    # The cache of known machines was rolled back with the batch, so the next try registers them again.
    projector.apply([wire(birth()), wire(part(1))], gaps=new_gaps())
    assert count(db_path, "part_counts") == 1


def _refuse_evil_agents(db_path: Path) -> None:
    with db.make_engine(f"sqlite:///{db_path}").begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_evil BEFORE INSERT ON agents WHEN NEW.name = 'evil' "
                "BEGIN SELECT RAISE(ABORT, 'injected agent failure'); END"
            )
        )


def test_a_message_failing_outside_its_savepoint_is_isolated_by_splitting_the_batch(
    projector: Projector, db_path: Path
) -> None:
    # An agent status is written outside the per-message savepoints: a failure there (a real one, from a
    # trigger) fails the bulk write and the message-by-message one. Halving isolates it; the rest commits.
    _refuse_evil_agents(db_path)
    batch = [wire(birth()), *(wire(part(seq)) for seq in range(1, 8))]
    batch.insert(5, wire(birth(agent="evil")))
    outcome = projector.apply(batch, gaps=new_gaps())
    assert (len(outcome.accepted), outcome.dead_letters) == (8, 1)
    assert outcome.splits >= 3  # 9 -> 4 + 5 -> ... -> the one status
    assert rows(db_path, "SELECT seq FROM part_counts ORDER BY seq") == [(s,) for s in range(1, 8)]
    ((topic, reason),) = rows(db_path, "SELECT topic, reason FROM dead_letters")
    assert topic == c.agent_topic(SITE, "evil", "status")
    assert reason.startswith("could not be stored: IntegrityError")
    assert "injected agent failure" in reason


@pytest.mark.parametrize("failure", [RecursionError, ValueError, KeyError, TypeError, AssertionError, OverflowError])
def test_any_exception_class_dead_letters_only_the_message_it_came_from(
    failure: type[Exception], projector: Projector, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mocked: decode now refuses what used to raise these (nesting, huge integers), so no real message can
    # make the store code raise them any more; the point is that whatever does raise, ingest goes on.
    real = bus_repo.upsert_agent

    def upsert_agent(**kwargs: Any) -> Any:
        if kwargs["name"] == "evil":
            raise failure("injected")
        return real(**kwargs)

    monkeypatch.setattr(bus_repo, "upsert_agent", upsert_agent)
    batch = [wire(birth()), wire(part(1)), wire(birth(agent="evil")), wire(part(2))]
    outcome = projector.apply(batch, gaps=new_gaps())
    assert (len(outcome.accepted), outcome.dead_letters) == (3, 1)
    ((reason,),) = rows(db_path, "SELECT reason FROM dead_letters")
    assert reason.startswith(f"could not be stored: {failure.__name__}")
    assert rows(db_path, "SELECT seq FROM part_counts ORDER BY seq") == [(1,), (2,)]


@pytest.mark.parametrize(
    ("error", "unwell"),
    [
        (sa_exc.OperationalError("INSERT", {}, Exception("database is locked")), True),
        (sa_exc.ProgrammingError("INSERT", {}, Exception("permission denied for table messages")), True),
        (sa_exc.InternalError("INSERT", {}, Exception("cannot execute INSERT in a read-only transaction")), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed")), False),
        (sa_exc.DataError("INSERT", {}, Exception("value too long for type character varying(256)")), False),
        (RecursionError("maximum recursion depth exceeded"), False),
    ],
    ids=["locked", "privileges", "read-only", "constraint", "data", "python"],
)
def test_only_the_stores_own_failures_hold_a_batch_back(error: Exception, unwell: bool) -> None:
    assert store_unwell(error) is unwell
