"""Every kind of message leaves the same rows whether its batch was written in bulk or one message at a time.

The one-message path runs only when a bulk write failed, to isolate the message at fault; it must not write
anything differently. Each scenario goes through both writers (``Projector.write``, bulk and one by one) under
sites of their own in a real store built by the migrations, on SQLite and on the local PostgreSQL, and every
table is compared, row ids replaced by the bus ids they stand for and the site by a placeholder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from edge_agent import contract as c
from gateway.ingest.decoding import decode_all
from gateway.ingest.gaps import Gaps, GapTracker
from gateway.ingest.messages import BatchOutcome, Received
from gateway.ingest.projection import Projector
from gateway.store import db
from gateway.store.models import Agent, AlarmRecord, Cycle, DeadLetter, Machine, Message, PartCount, StateChange
from tests.gateway.helpers import AGENT, MACHINE, T0, birth, changed, part, state
from tests.gateway.test_projection import received, wire

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TABLES = (Agent, Machine, Message, StateChange, Cycle, PartCount, AlarmRecord, DeadLetter)
OTHER = "pc-2"


@dataclass
class Store:
    """One writer's view of the shared store: its own projector, its gap tracker, a site per scenario."""

    engine: Engine
    projector: Projector
    gaps: Gaps
    one_by_one: bool

    def write(self, batch: list[Received]) -> BatchOutcome:
        return self.projector.write(decode_all(batch), gaps=self.gaps, one_by_one=self.one_by_one)

    def dump(self, site: str) -> dict[str, list[tuple[tuple[str, str], ...]]]:
        """Every row of the site, table by table, with agent and machine row ids replaced by their bus ids."""
        with self.engine.connect() as conn:
            ids = {
                "agent_id": dict(conn.execute(select(Agent.id, Agent.name).where(Agent.site == site)).all()),
                "machine_id": dict(conn.execute(select(Machine.id, Machine.name).where(Machine.site == site)).all()),
            }
            dump = {}
            for model in TABLES:
                found = (_of_site(dict(row), ids, site) for row in conn.execute(select(model.__table__)).mappings())
                dump[model.__tablename__] = sorted(row for row in found if row is not None)
            return dump


def _of_site(values: dict[str, Any], ids: dict[str, dict[int, str]], site: str) -> tuple[tuple[str, str], ...] | None:
    """A row as sorted (column, value) pairs, ids dropped or named, the site a placeholder; None if not the site's."""
    values.pop("id", None)
    mine = values.get("site") == site or str(values.get("topic", "")).startswith(f"{c.TOPIC_ROOT}/{site}/")
    for column, names in ids.items():
        if column in values:
            mine = mine or values[column] in names
            values[column] = names.get(values[column], "elsewhere")
    return tuple(sorted((k, repr(v).replace(site, "SITE")) for k, v in values.items())) if mine else None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    url = f"sqlite:///{tmp_path}/gateway.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db.upgrade(url)
    engine = db.make_engine(url)
    pair = []
    for one_by_one in (False, True):
        projector = Projector(db.session_factory(engine))
        projector.load()
        pair.append(Store(engine, projector, Gaps(GapTracker(timeout_s=10.0), lambda: 0.0), one_by_one))
    try:
        yield pair[0], pair[1]
    finally:
        engine.dispose()


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


def alarm(seq: int, code: str) -> c.AlarmRaised:
    raised = c.Alarm(code=code, message="Coolant level low", severity=c.Severity.WARNING)
    return c.AlarmRaised(agent=AGENT, machine=MACHINE, seq=seq, ts=at(seq), alarm=raised)


def cleared(seq: int, code: str) -> c.AlarmCleared:
    return c.AlarmCleared(agent=AGENT, machine=MACHINE, seq=seq, ts=at(seq), code=code)


def cycle_ended(seq: int) -> c.CycleEnded:
    return c.CycleEnded(
        agent=AGENT,
        machine=MACHINE,
        seq=seq,
        ts=at(seq),
        program="P1",
        started=T0,
        duration_s=seq,
        held_s=1.5,
        parts=1,
        outcome=c.CycleOutcome.COMPLETED,
    )


Batches = Callable[[str], list[list[Received]]]  # site -> the batches of a scenario, in order

# Each scenario names the tables it must write to, so that a comparison of two empty stores cannot pass.
SCENARIOS: dict[str, tuple[Batches, tuple[str, ...]]] = {
    "state snapshot, then an older one replayed": (
        lambda s: [
            [wire(birth(), site=s), wire(state(5, part_count=41), site=s, retain=True)],
            [wire(state(3, part_count=7), site=s)],
        ],
        ("machines", "messages"),
    ),
    "state_changed": (
        lambda s: [
            [
                wire(birth(), site=s),
                wire(changed(1, c.Execution.FEED_HOLD), site=s),
                wire(changed(2, c.Execution.OPTIONAL_STOP), site=s),
            ]
        ],
        ("state_changes",),
    ),
    "cycle_started and cycle_ended": (
        lambda s: [
            [
                wire(birth(), site=s),
                wire(c.CycleStarted(agent=AGENT, machine=MACHINE, seq=1, ts=T0, program="P1"), site=s),
                wire(cycle_ended(2), site=s),
            ]
        ],
        ("cycles", "messages"),
    ),
    "part_counted, with and without the control's counter": (
        lambda s: [
            [
                wire(birth(), site=s),
                wire(part(1, counter=42), site=s),
                wire(part(2), site=s),
                wire(part(3, counter=44), site=s),
            ]
        ],
        ("part_counts", "machines"),
    ),
    "alarm raised, cleared, raised again": (
        lambda s: [
            [
                wire(birth(), site=s),
                wire(alarm(1, "700012"), site=s),
                wire(cleared(2, "700012"), site=s),
                wire(alarm(3, "700012"), site=s),
                wire(alarm(4, "1"), site=s),
            ]
        ],
        ("alarms",),
    ),
    "program_changed": (
        lambda s: [
            [
                wire(birth(), site=s),
                wire(c.ProgramChanged(agent=AGENT, machine=MACHINE, seq=1, ts=T0, program="P2", previous="P1"), site=s),
            ]
        ],
        ("messages",),
    ),
    "telemetry": (
        lambda s: [
            [
                wire(birth(), site=s),
                wire(state(1), site=s),
                wire(c.Telemetry(agent=AGENT, machine=MACHINE, seq=1, ts=T0, spindle_speed=3000.0), site=s),
            ]
        ],
        ("machines",),
    ),
    "agent status online, then offline": (
        lambda s: [
            [wire(birth(MACHINE, "lathe-2"), site=s), wire(state(1), site=s)],
            [wire(birth(MACHINE, agent=OTHER), site=s)],  # claims a machine pc-1 owns: refused, a dead letter
            [wire(c.AgentStatus(agent=AGENT, ts=T0, status="offline"), site=s)],
        ],
        ("agents", "state_changes", "dead_letters"),
    ),
    "replay request and malformed payloads": (
        lambda s: [
            [
                wire(birth(), site=s),
                received(
                    c.agent_topic(s, AGENT, "replay"), c.encode(c.ReplayRequest(agent=AGENT, ts=T0, first=1, last=2))
                ),
                received(c.machine_topic(s, MACHINE, "event"), b"{not json"),
                received(c.machine_topic(s, MACHINE, "event"), c.encode(part(1)).replace(b'"count":1', b'"count":-4')),
            ]
        ],
        ("dead_letters",),
    ),
    "duplicates, in a batch and across batches": (
        lambda s: [
            [wire(birth(), site=s), wire(part(1), site=s), wire(part(2), site=s), wire(part(1), site=s)],
            [wire(part(2), site=s), wire(state(3), site=s), wire(part(3), site=s)],
        ],
        ("part_counts", "messages"),
    ),
    "a seq reused for another message": (
        lambda s: [
            [wire(birth(), site=s), wire(part(1), site=s)],
            [wire(changed(1, c.Execution.READY), site=s)],
        ],
        ("dead_letters",),
    ),
    "a machine message from another agent, and from an unknown one": (
        lambda s: [
            [wire(birth(), site=s), wire(part(1), site=s), wire(birth("lathe-9", agent=OTHER), site=s)],
            [
                wire(part(1).model_copy(update={"agent": OTHER}), site=s),
                wire(part(5).model_copy(update={"agent": "pc-ghost"}), site=s),
                wire(part(2, machine="mill-unannounced"), site=s),
            ],
        ],
        ("dead_letters",),
    ),
}


def test_both_writers_leave_the_same_rows(stores: tuple[Store, Store]) -> None:
    differences: dict[str, Any] = {}
    for number, (scenario, (batches, written)) in enumerate(sorted(SCENARIOS.items())):
        sites = [f"s{number}-bulk", f"s{number}-one"]
        outcomes: list[list[tuple[Any, ...]]] = [[], []]
        for store, site, seen in zip(stores, sites, outcomes, strict=True):
            for batch in batches(site):
                o = store.write(batch)
                observed = [(agent, seq, start) for (_, agent), seq, start in o.observed]
                held = [(agent, seq) for (_, agent), seq in o.held]
                counts = (o.duplicates, o.dead_letters, o.foreign, o.claims_refused)
                seen.append(([a.message for a in o.accepted], counts, observed, held))
        bulk, one_by_one = (store.dump(site) for store, site in zip(stores, sites, strict=True))
        if outcomes[0] != outcomes[1] or bulk != one_by_one:
            differences[scenario] = {"outcomes": outcomes, "bulk": bulk, "one by one": one_by_one}
        assert all(bulk[table] for table in written), (scenario, {table: bulk[table] for table in written})
    assert not differences


def test_the_scenarios_cover_every_message_type() -> None:
    site = "cover"
    seen = {
        type(message)
        for name in SCENARIOS
        for batch in SCENARIOS[name][0](site)
        for item in batch
        for message in _decoded(item)
    }
    assert seen >= {c.StateMessage, *c.EVENT_TYPES, c.Telemetry, c.AgentStatus, c.ReplayRequest}


def _decoded(item: Received) -> list[c.Message]:
    try:
        return [c.decode(item.topic, item.payload)[1]]
    except c.ContractError:
        return []


@pytest.mark.slow  # the local PostgreSQL
def test_postgresql_leaves_the_rows_sqlite_leaves(tmp_path: Path, postgres_url: str) -> None:
    # PostgreSQL writes a batch with statements of its own (``gateway.store.bulk_pg``: arrays, pipelines);
    # the same batches must leave the same rows as SQLite's Core statements.
    dumps = []
    for url in (f"sqlite:///{tmp_path}/gateway.db", postgres_url):
        db.upgrade(url)
        engine = db.make_engine(url)
        projector = Projector(db.session_factory(engine))
        projector.load()
        store = Store(engine, projector, Gaps(GapTracker(timeout_s=10.0), lambda: 0.0), one_by_one=False)
        try:
            for number, (_, (batches, _)) in enumerate(sorted(SCENARIOS.items())):
                for batch in batches(f"s{number}"):
                    store.write(batch)
            dumps.append({number: store.dump(f"s{number}") for number in range(len(SCENARIOS))})
        finally:
            engine.dispose()
    sqlite, postgres = dumps
    assert all(any(rows for rows in dump.values()) for dump in sqlite.values())
    assert {n: d for n, d in postgres.items() if d != sqlite[n]} == {}
