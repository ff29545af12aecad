"""Every machine has one owner: refusals say what to do, statuses claim nothing, a move is deliberate and audited.

The projector over a real store built by the migrations, on SQLite and on the
local PostgreSQL (where the machines a batch names are read with FOR UPDATE).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from edge_agent import contract as c
from gateway.errors import ConflictError, InvalidError, NotFoundError
from gateway.ingest.gaps import Gaps, GapTracker
from gateway.ingest.projection import Projector
from gateway.store import db, ownership_repo
from tests.gateway.helpers import SITE, T0
from tests.gateway.test_projection import received, wire

VICTIM, ATTACKER = "pc-victim", "pc-attacker"
MILL, LATHE = "mill-1", "lathe-2"  # the victim's mill, the attacker's lathe


@dataclass
class Store:
    engine: Engine
    projector: Projector
    tracker: GapTracker
    gaps: Gaps

    def apply(self, *messages: c.Message) -> Any:
        return self.projector.apply([wire(m) for m in messages], gaps=self.gaps)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path}/gateway.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db.upgrade(url)
    engine = db.make_engine(url)
    projector = Projector(db.session_factory(engine))
    projector.load()
    tracker = GapTracker(timeout_s=10.0)
    try:
        yield Store(engine, projector, tracker, Gaps(tracker, lambda: 0.0))
    finally:
        engine.dispose()


def status(agent: str, *machines: str, online: bool = True) -> c.AgentStatus:
    return c.AgentStatus(agent=agent, ts=T0, status="online" if online else "offline", machines=machines)


def part(agent: str, machine: str, seq: int) -> c.PartCounted:
    return c.PartCounted(
        agent=agent,
        machine=machine,
        seq=seq,
        ts=T0 + timedelta(seconds=seq % 10**6),
        count=1,
        counter=seq,
        program="P1",
    )


def snapshot(agent: str, machine: str, seq: int) -> c.StateMessage:
    state = c.MachineState(availability=c.Availability.AVAILABLE, execution=c.Execution.ACTIVE)
    return c.StateMessage(agent=agent, machine=machine, seq=seq, ts=T0 + timedelta(seconds=seq), state=state)


def owners(store: Store) -> list[tuple[Any, ...]]:
    return store.rows("SELECT m.name, a.name FROM machines m JOIN agents a ON a.id = m.agent_id ORDER BY m.name")


def letters(store: Store) -> list[str]:
    return [reason for (reason,) in store.rows("SELECT reason FROM dead_letters ORDER BY id")]


def with_two_agents(store: Store) -> None:
    store.apply(status(VICTIM, MILL), status(ATTACKER, LATHE), snapshot(VICTIM, MILL, 1), snapshot(ATTACKER, LATHE, 1))
    assert owners(store) == [(LATHE, ATTACKER), (MILL, VICTIM)]


def test_a_machine_is_created_by_its_announcing_agent_first_message_only(store: Store) -> None:
    outcome = store.apply(status(VICTIM, MILL, "ghost-9"), snapshot(VICTIM, MILL, 1))
    assert owners(store) == [(MILL, VICTIM)]  # ghost-9 announced, never heard of on its own topic: no machine
    assert outcome.accepted[0].agent_machines == ()  # the birth came before the machine's first message
    outcome = store.apply(part(ATTACKER, "ghost-7", 1))  # an agent that announces nothing
    assert outcome.dead_letters == 1
    assert "unknown agent 'pc-attacker'" in letters(store)[-1]
    store.apply(status(ATTACKER, LATHE), part(ATTACKER, "ghost-7", 2))
    assert "unknown machine 'ghost-7'" in letters(store)[-1]
    assert "does not announce it" in letters(store)[-1]
    assert owners(store) == [(MILL, VICTIM)]


def test_a_message_naming_another_agent_is_refused_and_touches_none_of_its_seqs(store: Store) -> None:
    with_two_agents(store)
    # On the attacker's own lathe topic (the only one its ACL allows), claiming the victim's id and next seqs.
    forged = [part(VICTIM, LATHE, 2), part(VICTIM, LATHE, 3), part(VICTIM, LATHE, 10**15)]
    outcome = store.apply(*forged)
    assert (outcome.dead_letters, outcome.foreign, len(outcome.accepted)) == (3, 3, 0)
    reason = letters(store)[0]
    assert f"machine '{LATHE}' of site '{SITE}' belongs to agent '{ATTACKER}', not to '{VICTIM}'" in reason
    assert "does not announce it: a misconfigured or forging publisher" in reason
    assert store.tracker.contiguous((SITE, VICTIM)) == 1  # the forged seqs are not the victim's
    assert store.tracker.open_gaps((SITE, VICTIM)) == []
    # The victim's genuine seqs 2 and 3 are stored, not taken for an outbox reset.
    outcome = store.apply(part(VICTIM, MILL, 2), part(VICTIM, MILL, 3))
    assert (len(outcome.accepted), outcome.dead_letters, outcome.duplicates) == (2, 0, 0)
    assert store.rows("SELECT seq FROM part_counts ORDER BY seq") == [(2,), (3,)]


def test_a_status_claims_no_machine_of_another_agent_nor_marks_it_unavailable(store: Store) -> None:
    with_two_agents(store)
    outcome = store.apply(status(ATTACKER, LATHE, MILL))
    assert outcome.claims_refused == 1
    assert outcome.accepted[0].agent_machines == (LATHE,)
    reason = letters(store)[0]
    assert f"status of agent '{ATTACKER}' announces machine '{MILL}'" in reason
    assert f"belongs to agent '{VICTIM}': the claim is ignored" in reason
    assert f"atelier gateway move-machine --site {SITE} {MILL} {ATTACKER}" in reason
    outcome = store.apply(status(ATTACKER, LATHE, MILL, online=False))  # then goes offline
    assert owners(store) == [(LATHE, ATTACKER), (MILL, VICTIM)]
    unavailable = store.rows(
        "SELECT m.name FROM state_changes s JOIN machines m ON m.id = s.machine_id WHERE s.availability = 'UNAVAILABLE'"
    )
    assert unavailable == [(LATHE,)]
    assert outcome.accepted[0].agent_machines == (LATHE,)


def test_a_moved_machine_is_refused_until_an_admin_moves_it_then_its_events_are_asked_again(store: Store) -> None:
    store.apply(status(VICTIM, MILL), snapshot(VICTIM, MILL, 1))
    # The mill was plugged into another PC, whose agent announces it and publishes before anyone moved it.
    store.apply(status("pc-new", MILL), part("pc-new", MILL, 1), part("pc-new", MILL, 2))
    reason = letters(store)[-1]
    assert "Agent 'pc-new' announces the machine too" in reason
    assert f"atelier gateway move-machine --site {SITE} {MILL} pc-new" in reason
    assert store.rows("SELECT count(*) FROM part_counts") == [(0,)]
    now = datetime(2026, 12, 1, 10, tzinfo=UTC)
    with _session(store) as session:
        move = ownership_repo.move_machine(db=session, site=SITE, machine=MILL, agent="pc-new", who="roux", now=now)
    assert (move.previous, move.agent, move.new_agent, move.online) == (VICTIM, "pc-new", False, True)
    ((who, action, entity, before, after),) = store.rows("SELECT who, action, entity, before, after FROM audit_log")
    assert (who, action, entity) == ("roux", "move", "machine")
    assert (_json(before)["agent"], _json(after)["agent"]) == (VICTIM, "pc-new")
    store.apply(part("pc-new", MILL, 3))
    assert store.rows("SELECT seq FROM part_counts") == [(3,)]
    # Seqs 1 and 2 held their place: the gap over them is asked of the new agent, which replays them.
    assert store.tracker.open_gaps((SITE, "pc-new")) == [(1, 2)]
    store.apply(part("pc-new", MILL, 1), part("pc-new", MILL, 2))
    assert store.rows("SELECT seq FROM part_counts ORDER BY seq") == [(1,), (2,), (3,)]
    outcome = store.apply(part(VICTIM, MILL, 2))  # the old PC, still running, is refused now
    assert outcome.foreign == 1


def test_a_move_is_checked(store: Store) -> None:
    store.apply(status(VICTIM, MILL), snapshot(VICTIM, MILL, 1))
    now = datetime(2026, 12, 1, 10, tzinfo=UTC)
    for kwargs, error, message in [
        ({"machine": "nope", "agent": "pc-2"}, NotFoundError, "Machine lyon/nope is unknown"),
        ({"machine": MILL, "agent": "Bad Id"}, InvalidError, "'Bad Id' is not an agent id"),
        ({"machine": MILL, "agent": VICTIM}, ConflictError, "already belongs to agent pc-victim"),
    ]:
        with pytest.raises(error, match=message), _session(store) as session:
            ownership_repo.move_machine(db=session, site=SITE, who="roux", now=now, **kwargs)
    with _session(store) as session:  # a planned move, before the new PC ever spoke
        move = ownership_repo.move_machine(db=session, site=SITE, machine=MILL, agent="pc-9", who="roux", now=now)
    assert (move.new_agent, move.online) == (True, False)
    assert owners(store) == [(MILL, "pc-9")]
    store.projector.load()
    outcome = store.apply(status("pc-9", MILL), part("pc-9", MILL, 1))
    assert (len(outcome.accepted), outcome.dead_letters) == (2, 0)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite hands JSON back as text here


def _session(store: Store) -> Any:
    return db.session_factory(store.engine).begin()


def test_a_refused_claim_keeps_the_payload_bounded(store: Store) -> None:
    with_two_agents(store)
    many = tuple(f"m{n:03d}-" + "x" * 55 for n in range(200))  # a 13 KiB status: stored as its first 4 KiB
    big = status(ATTACKER, LATHE, MILL, *many)
    outcome = store.projector.apply([received(c.agent_topic(SITE, ATTACKER, "status"), c.encode(big))], gaps=store.gaps)
    assert outcome.claims_refused == 1
    ((payload, size, digest),) = store.rows("SELECT payload, payload_size, payload_sha256 FROM dead_letters")
    assert bytes(payload) == c.encode(big)[:4096]
    assert (size, digest) == (len(c.encode(big)), hashlib.sha256(c.encode(big)).hexdigest())
