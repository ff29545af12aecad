"""Fuzzing ingest: whatever arrives on the bus is accepted or dead-lettered, never a crash, never half a row.

Hypothesis builds batches of topics and payloads — valid messages, valid
messages with one field mangled, arbitrary JSON, arbitrary bytes — and feeds
them to the projector (the part of ingest that decides and writes) over a
real SQLite file. Every message of a batch must be accounted for exactly once
(accepted, duplicate or dead letter), the batch must commit, and the rows must
agree with each other.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import contract as c
from gateway.ingest.gaps import Gaps, GapTracker
from gateway.ingest.messages import Received
from gateway.ingest.projection import Projector
from gateway.store import db
from tests.gateway.helpers import AGENT, MACHINE, SITE, T0, birth, count

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FIELD_TYPES = ("cycle_ended", "part_counted", "state_changed", "alarm_raised", "cycle_started", "program_changed")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
ids = st.sampled_from([MACHINE, "other-machine", "x" * 63, "Bad Id", "", "agent"]) | st.text(max_size=20)


def _valid(kind: str, seq: int) -> dict[str, Any]:
    base = {"schema": 1, "agent": AGENT, "machine": MACHINE, "seq": seq, "ts": c.utc_iso(T0 + timedelta(seconds=seq))}
    fields: dict[str, dict[str, Any]] = {
        "cycle_ended": {
            "program": "P1", "kind": "cycle", "started": c.utc_iso(T0), "duration_s": 12.5, "held_s": 0.0,
            "parts": 1, "outcome": "completed",
        },
        "part_counted": {"count": 1, "counter": seq, "program": "P1"},
        "state_changed": {"availability": "AVAILABLE", "execution": "ACTIVE", "mode": "AUTOMATIC"},
        "alarm_raised": {"alarm": {"code": "A1", "message": "door", "severity": "FAULT"}},
        "cycle_started": {"program": "P1", "kind": "cycle"},
        "program_changed": {"program": "P2", "previous": "P1"},
    }  # fmt: skip
    return {**base, "type": kind, **fields[kind]}


@st.composite
def mangled_event(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid event with one field replaced, removed or added; sometimes left intact."""
    payload = _valid(draw(st.sampled_from(FIELD_TYPES)), draw(st.integers(min_value=1, max_value=60)))
    key = draw(st.sampled_from(sorted(payload)))
    action = draw(st.sampled_from(["keep", "replace", "drop", "add", "huge"]))
    if action == "replace":
        payload[key] = draw(json_values)
    elif action == "drop":
        del payload[key]
    elif action == "add":
        payload[draw(st.text(max_size=10))] = draw(json_values)
    elif action == "huge":
        payload[key] = draw(st.sampled_from([2**63, 2**64 + 1, -(2**63) - 1, 1e308, -1e308, "\0", "é" * 300]))
    machine = draw(st.sampled_from([MACHINE, MACHINE, draw(ids)]))
    return f"atelier/v1/{SITE}/{machine}/event", json.dumps(payload).encode()


topics = st.sampled_from(
    [
        c.machine_topic(SITE, MACHINE, "event"),
        c.machine_topic(SITE, MACHINE, "state"),
        c.machine_topic(SITE, MACHINE, "telemetry"),
        c.agent_topic(SITE, AGENT, "status"),
        c.agent_topic(SITE, AGENT, "replay"),
        "atelier/v1",
        "",
    ]
) | st.text(max_size=60)
arbitrary = st.tuples(topics, st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
messages = st.lists(st.one_of(mangled_event(), arbitrary), min_size=1, max_size=20)


@contextmanager
def _projector() -> Iterator[tuple[Projector, Path]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gateway.db"
        db.upgrade(f"sqlite:///{path}")
        engine = db.make_engine(f"sqlite:///{path}")
        projector = Projector(db.session_factory(engine))
        projector.load()
        gaps = Gaps(GapTracker(timeout_s=10.0), lambda: 0.0)
        status = c.agent_topic(SITE, AGENT, "status")
        projector.apply([Received(status, c.encode(birth()), 1, 1, False, 1, NOW)], gaps=gaps)
        try:
            yield projector, path
        finally:
            engine.dispose()


_SHARED: dict[str, Any] = {}


def _shared() -> tuple[Projector, Path]:
    """One store for every example: what earlier examples wrote makes later duplicates real."""
    if "projector" not in _SHARED:
        context = _projector()
        _SHARED["projector"], _SHARED["path"] = context.__enter__()
        _SHARED["context"] = context
    return _SHARED["projector"], _SHARED["path"]


def teardown_module() -> None:
    if "context" in _SHARED:
        _SHARED["context"].__exit__(None, None, None)


@pytest.mark.slow  # hypothesis: 200 batches through ingest
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=messages)
def test_every_message_is_accepted_or_dead_lettered_and_rows_agree(batch: list[tuple[str, bytes]]) -> None:
    projector, path = _shared()
    before = {table: count(path, table) for table in ("messages", "dead_letters")}
    items = [Received(topic, payload, i + 1, 1, False, 1, NOW) for i, (topic, payload) in enumerate(batch)]

    outcome = projector.apply(items, gaps=Gaps(GapTracker(timeout_s=10.0), lambda: 0.0))

    assert len(outcome.accepted) + outcome.duplicates + outcome.dead_letters == len(items)
    assert count(path, "dead_letters") - before["dead_letters"] == outcome.dead_letters + outcome.claims_refused
    sequenced = [a for a in outcome.accepted if isinstance(a.message, (c.StateMessage, *c.EVENT_TYPES))]
    assert count(path, "messages") - before["messages"] == len(sequenced)
    # No half-written row: every stored cycle and part count has its message row, and the other way round.
    assert count(path, "cycles") == _count_type(path, "cycle_ended")
    assert count(path, "part_counts") == _count_type(path, "part_counted")
    assert _reasons_like(path, "projection failed") == 0, "a valid message that does not project is a bug"
    assert _reasons_like(path, "could not be stored") == 0, "a valid message the store refuses is a bug"


def _count_type(path: Path, kind: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE type = ?", (kind,)).fetchone()[0])


def _reasons_like(path: Path, prefix: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT count(*) FROM dead_letters WHERE reason LIKE ?", (f"{prefix}%",)).fetchone()
        return int(row[0])
