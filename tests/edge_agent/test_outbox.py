"""The durable outbox on real SQLite files: sequence numbers, acknowledgements, budgets, replay, pruning."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent import contract as c
from edge_agent.drafts import Draft
from edge_agent.errors import OutboxError
from edge_agent.outbox import EVENT, TELEMETRY, Outbox

TS = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def draft(n: int = 0) -> Draft:
    return Draft(type=c.CycleStarted, ts=TS + timedelta(seconds=n), fields={"program": f"O{n}"})


def open_outbox(path: Path, **overrides: float) -> Outbox:
    settings: dict[str, float] = {"event_budget": 1000, "telemetry_budget": 1000, "retention_s": 3600.0}
    settings.update(overrides)
    return Outbox(
        path,
        agent="pc-1",
        site="lyon",
        event_budget=int(settings["event_budget"]),
        telemetry_budget=int(settings["telemetry_budget"]),
        retention_s=settings["retention_s"],
    )


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = open_outbox(tmp_path / "outbox.sqlite")
    yield box
    box.close()


def test_seq_strictly_increasing_and_persisted_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = open_outbox(path)
    first = box.put("mill-1", [draft(1), draft(2)], c.MachineState(availability=c.Availability.AVAILABLE))
    second = box.put("lathe-2", [draft(3)])
    box.close()
    box = open_outbox(path)
    third = box.put("mill-1", [draft(4)])
    assert first + second + third == [1, 2, 3, 4, 5]
    assert box.stats().next_seq == 6
    box.close()


def test_seq_never_reused_after_prune(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = open_outbox(path, retention_s=0)
    box.put("mill-1", [draft(1), draft(2)])
    box.mark_sent(item.id for item in box.pending(10))
    assert box.prune() == 2
    box.close()
    box = open_outbox(path)
    assert box.put("mill-1", [draft(3)]) == [3]
    box.close()


def test_payloads_follow_the_contract(outbox: Outbox) -> None:
    state = c.MachineState(availability=c.Availability.AVAILABLE, program="O7")
    outbox.put("mill-1", [draft(1)], state)
    event, snapshot = outbox.pending(10)
    topic, message = c.decode(event.topic, event.payload)
    assert (topic.machine, topic.channel) == ("mill-1", "event")
    assert isinstance(message, c.CycleStarted)
    assert (message.agent, message.seq, message.program) == ("pc-1", 1, "O1")
    assert (event.qos, event.retain) == (1, False)
    topic, message = c.decode(snapshot.topic, snapshot.payload)
    assert topic.channel == "state"
    assert isinstance(message, c.StateMessage)
    assert (message.seq, message.state, message.ts) == (2, state, draft(1).ts)
    assert (snapshot.qos, snapshot.retain) == (1, True)


def test_pending_and_mark_sent(outbox: Outbox) -> None:
    outbox.put("mill-1", [draft(n) for n in range(5)])
    items = outbox.pending(3)
    assert [i.seq for i in items] == [1, 2, 3]
    assert [i.seq for i in outbox.pending(10, after_id=items[-1].id)] == [4, 5]
    outbox.mark_sent([items[0].id, items[2].id])
    outbox.mark_sent([items[0].id])  # a duplicate acknowledgement changes nothing
    assert [i.seq for i in outbox.pending(10)] == [2, 4, 5]
    assert outbox.stats().unsent_events == 3


def test_unacknowledged_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = open_outbox(path)
    box.put("mill-1", [draft(n) for n in range(4)])
    box.mark_sent([box.pending(1)[0].id])
    box.close()
    box = open_outbox(path)
    assert [i.seq for i in box.pending(10)] == [2, 3, 4]
    assert box.stats().unsent_events == 3
    box.close()


def test_telemetry_has_its_own_sequence_and_drops_oldest(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "outbox.sqlite", telemetry_budget=3)
    box.put("mill-1", [draft(1)])
    seqs = [box.put_telemetry("mill-1", TS, {"spindle_speed": float(n), "not_a_field": 1.0}) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    pending = box.pending(10)
    assert [(i.kind, i.seq) for i in pending] == [(EVENT, 1), (TELEMETRY, 3), (TELEMETRY, 4), (TELEMETRY, 5)]
    _, sample = c.decode(pending[-1].topic, pending[-1].payload)
    assert isinstance(sample, c.Telemetry)
    assert (sample.spindle_speed, sample.feed_rate) == (4.0, None)
    assert (pending[-1].qos, pending[-1].retain) == (0, False)
    stats = box.stats()
    assert (stats.unsent_telemetry, stats.dropped_telemetry, stats.unsent_events) == (3, 2, 1)
    box.close()


def test_events_are_never_dropped_but_raise_over_budget(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    box = open_outbox(tmp_path / "outbox.sqlite", event_budget=3)
    with caplog.at_level(logging.ERROR, logger="edge_agent.outbox"):
        for n in range(6):
            box.put("mill-1", [draft(n)])
    assert box.over_budget
    assert [i.seq for i in box.pending(10)] == [1, 2, 3, 4, 5, 6]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1, "one ERROR per overrun"
    box.mark_sent(i.id for i in box.pending(3))
    assert not box.over_budget
    box.close()
    box = open_outbox(tmp_path / "outbox.sqlite", event_budget=2)
    assert box.over_budget, "the overrun is seen again after a restart"
    box.close()


def test_replay_returns_retained_events_in_range(outbox: Outbox) -> None:
    outbox.put("mill-1", [draft(n) for n in range(3)], c.MachineState())
    outbox.put_telemetry("mill-1", TS, {"feed_rate": 100.0})
    outbox.put("lathe-2", [draft(9)])
    outbox.mark_sent(i.id for i in outbox.pending(100))
    outbox.prune()
    replayed = outbox.replay(2, 5)
    assert [i.seq for i in replayed] == [2, 3, 4, 5]
    assert all(i.kind == EVENT for i in replayed)
    assert replayed[2].topic.endswith("/mill-1/state")
    assert replayed[3].topic.endswith("/lathe-2/event")
    assert outbox.replay(50, 60) == []


def test_prune_keeps_unsent_and_recent(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "outbox.sqlite", retention_s=0)
    box.put("mill-1", [draft(n) for n in range(4)])
    box.put_telemetry("mill-1", TS, {"feed_rate": 1.0})
    box.put_telemetry("mill-1", TS, {"feed_rate": 2.0})
    items = box.pending(10)
    box.mark_sent([items[0].id, items[1].id, items[4].id])
    assert box.prune() == 3
    assert [(i.kind, i.seq) for i in box.pending(10)] == [(EVENT, 3), (EVENT, 4), (TELEMETRY, 2)]
    box.close()

    kept = open_outbox(tmp_path / "kept.sqlite", retention_s=3600)
    kept.put("mill-1", [draft(1)])
    kept.put_telemetry("mill-1", TS, {"feed_rate": 1.0})
    kept.mark_sent(i.id for i in kept.pending(10))
    assert kept.prune() == 1, "sent telemetry goes at once, sent events stay for the retention window"
    assert [i.seq for i in kept.replay(1, 1)] == [1]
    kept.close()


def test_storage_full_raises_outbox_error_and_keeps_nothing_half_written(tmp_path: Path) -> None:
    box = open_outbox(tmp_path / "outbox.sqlite")
    box.put("mill-1", [draft(0)])
    # SQLite's own page limit produces the same SQLITE_FULL error as a full disk.
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count = {pages}")
    big = [Draft(type=c.CycleStarted, ts=TS, fields={"program": "P" * 250}) for _ in range(200)]
    with pytest.raises(OutboxError, match="full"):
        box.put("mill-1", big)
    assert box.stats().next_seq == 2
    assert box.stats().unsent_events == 1
    box._db.execute("PRAGMA max_page_count = 1000000")
    assert box.put("mill-1", [draft(1)]) == [2]
    box.close()


def test_unwritable_location_raises_outbox_error(tmp_path: Path) -> None:
    with pytest.raises(OutboxError, match="cannot open"):
        open_outbox(tmp_path / "missing-dir" / "outbox.sqlite")


def test_events_commit_with_an_fsync_even_right_after_telemetry(outbox: Outbox) -> None:
    # White-box on purpose: the durability level is invisible from outside until a power cut.
    def level() -> int:
        (value,) = outbox._db.execute("PRAGMA synchronous").fetchone()
        return int(value)

    full, normal = 2, 1
    assert level() == full
    outbox.put_telemetry("mill-1", datetime.now(UTC), {"spindle_speed": 1.0})
    assert level() == normal  # telemetry alone may be lost to a power cut
    outbox.put("mill-1", [draft(1)])
    assert level() == full
    outbox.mark_sent([item.id for item in outbox.pending(10)])
    assert level() == normal  # a lost acknowledgement only sends its event again
    outbox.put("mill-1", [draft(2)])
    assert level() == full
