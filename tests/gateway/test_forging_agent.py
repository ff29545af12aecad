"""A forging agent on the workshop network cannot touch another agent's records.

Real TLS mosquitto with the ACL ``atelier bus secure`` generates, the real
gateway, and two agents: the victim (``pc-victim``, serving ``mill-1``) and an
attacker (``pc-attacker``, allowed by the ACL to publish only on its own
``lathe-2`` and its own status). The attacker claims the victim's agent id and
its next seqs on the topics it may use, forges a seq of 10**15, announces the
victim's mill in its status and then goes offline. Afterwards the victim's
records are exactly those the victim alone produces (the same messages applied
by the same projector to an empty store), its mill has no UNAVAILABLE state
change, and no replay request asks for more than the bound.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from atelier.broker import free_port
from atelier.bus_security import AgentAccount
from edge_agent import contract as c
from gateway.config import GatewaySettings
from gateway.ingest.gaps import Gaps, GapTracker
from gateway.ingest.messages import Received
from gateway.ingest.projection import Projector
from gateway.store import db
from plumbing import tomlconfig
from tests.gateway.helpers import T0, until
from tests.gateway.test_projection import NOW
from tests.secure_broker import Probe, SecureBroker, start_secure_broker

SITE = "lyon"
VICTIM, ATTACKER, SPY = "pc-victim", "pc-attacker", "spy"
MILL, LATHE = "mill-1", "lathe-2"
PASSWORDS = {VICTIM: "victim-secret", ATTACKER: "attacker-secret", "gateway-1": "gateway-secret", SPY: "spy-secret"}
MAX_SPAN = 1000
# A test observer that reads the whole tree, replay requests included; not part of any real ACL.
SPY_ACL = f"\nuser {SPY}\ntopic read {c.TOPIC_ROOT}/#\n"


@pytest.fixture
def bus(tmp_path: Path) -> Any:
    accounts = [AgentAccount(VICTIM, SITE, (MILL,)), AgentAccount(ATTACKER, SITE, (LATHE,))]
    secure = start_secure_broker(tmp_path / "bus", accounts, ["gateway-1"], PASSWORDS, SPY_ACL)
    try:
        yield secure
    finally:
        secure.broker.stop()


def gateway_settings(tmp_path: Path, bus: SecureBroker) -> GatewaySettings:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[gateway]\nid = "test"\nsite = "+"\n\n'
        f'[broker]\nhost = "127.0.0.1"\nport = {bus.port}\nusername = "gateway-1"\npassword = "gateway-secret"\n'
        f"keepalive_s = 5\n\n"
        f'[broker.tls]\nca_file = "{bus.tls.ca_file}"\n\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "gateway.db"}"\n\n'
        f"[ingest]\nbatch_ms = 20\ngap_timeout_s = 0.3\nreplay_max_span = {MAX_SPAN}\n\n"
        f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n'
    )
    return tomlconfig.load(path, GatewaySettings)


def at(seconds: int) -> Any:
    return T0 + timedelta(seconds=seconds)


def victim_messages() -> list[tuple[str, c.Message, bool]]:
    """(topic, message, retained): a morning of the victim's mill, deterministic."""
    ids = {"agent": VICTIM, "machine": MILL}
    running = c.MachineState(availability=c.Availability.AVAILABLE, execution=c.Execution.ACTIVE, part_count=40)
    alarm = c.Alarm(code="700012", message="Coolant level low", severity=c.Severity.WARNING)
    events: list[c.Message] = [
        c.StateMessage(seq=1, ts=at(1), state=running, **ids),
        c.CycleStarted(seq=2, ts=at(2), program="P1", **ids),
        c.StateChanged(
            seq=3,
            ts=at(3),
            availability=c.Availability.AVAILABLE,
            execution=c.Execution.FEED_HOLD,
            mode=c.Mode.AUTOMATIC,
            **ids,
        ),
        c.AlarmRaised(seq=4, ts=at(4), alarm=alarm, **ids),
        c.AlarmCleared(seq=5, ts=at(5), code="700012", **ids),
        c.CycleEnded(
            seq=6,
            ts=at(90),
            program="P1",
            started=at(2),
            duration_s=88.0,
            held_s=3.0,
            parts=1,
            outcome=c.CycleOutcome.COMPLETED,
            **ids,
        ),
        c.PartCounted(seq=7, ts=at(90), count=1, counter=41, program="P1", **ids),
        c.StateMessage(seq=8, ts=at(91), state=running.model_copy(update={"part_count": 41}), **ids),
    ]
    birth = c.AgentStatus(agent=VICTIM, ts=at(0), status="online", version="1.0", machines=(MILL,))
    out: list[tuple[str, c.Message, bool]] = [(c.agent_topic(SITE, VICTIM, "status"), birth, True)]
    for message in events:
        snapshot = isinstance(message, c.StateMessage)
        out.append((c.machine_topic(SITE, MILL, "state" if snapshot else "event"), message, snapshot))
    return out


def forged_seqs() -> list[c.Message]:
    """On the attacker's own lathe topic: the victim's id with the victim's next seqs, and one far ahead."""
    forged: list[c.Message] = [
        c.CycleEnded(
            agent=VICTIM,
            machine=LATHE,
            seq=seq,
            ts=at(50),
            program="FAKE",
            started=at(40),
            duration_s=10.0,
            held_s=0.0,
            parts=99,
            outcome=c.CycleOutcome.COMPLETED,
        )
        for seq in (2, 3, 6, 7)
    ]
    forged.append(
        c.PartCounted(agent=VICTIM, machine=LATHE, seq=10**15, ts=at(60), count=1, counter=None, program=None)
    )
    return forged


def victim_records(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the store holds of the victim and its mill, without row ids or arrival times."""
    queries = {
        "agent": "SELECT name, status, version, contiguous_seq FROM agents WHERE name = ?",
        "machine": "SELECT m.name, a.name, m.last_state, m.last_state_seq, m.last_state_ts, m.part_counter "
        "FROM machines m JOIN agents a ON a.id = m.agent_id WHERE m.name = 'mill-1' OR a.name = ?",
        "messages": "SELECT m.seq, x.name, m.type, m.ts FROM messages m JOIN agents a ON a.id = m.agent_id "
        "JOIN machines x ON x.id = m.machine_id WHERE a.name = ? ORDER BY m.seq",
        "cycles": "SELECT c.seq, c.program, c.kind, c.started, c.ended, c.duration_s, c.held_s, c.parts, c.outcome "
        "FROM cycles c JOIN agents a ON a.id = c.agent_id WHERE a.name = ? OR c.machine_id IN "
        "(SELECT id FROM machines WHERE name = 'mill-1') ORDER BY c.seq",
        "parts": "SELECT p.seq, p.ts, p.count, p.counter, p.program FROM part_counts p JOIN agents a "
        "ON a.id = p.agent_id WHERE a.name = ? OR p.machine_id IN (SELECT id FROM machines WHERE name = 'mill-1') "
        "ORDER BY p.seq",
        "state_changes": "SELECT s.ts, s.availability, s.execution, s.mode FROM state_changes s JOIN machines m "
        "ON m.id = s.machine_id WHERE m.name = 'mill-1' AND ? IS NOT NULL ORDER BY s.ts",
        "alarms": "SELECT l.ts, l.code, l.message, l.severity, l.cleared FROM alarms l JOIN machines m "
        "ON m.id = l.machine_id WHERE m.name = 'mill-1' AND ? IS NOT NULL ORDER BY l.ts",
    }
    with closing(sqlite3.connect(path)) as conn:
        return {name: conn.execute(sql, (VICTIM,)).fetchall() for name, sql in queries.items()}


def reference_records(tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The victim's messages alone, through the same projector, into an empty store."""
    path = tmp_path / "reference.db"
    db.upgrade(f"sqlite:///{path}")
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        projector = Projector(db.session_factory(engine))
        projector.load()
        batch = [
            Received(topic, c.encode(message), n, 1, retain, 1, NOW)
            for n, (topic, message, retain) in enumerate(victim_messages(), start=1)
        ]
        projector.apply(batch, gaps=Gaps(GapTracker(timeout_s=10.0), lambda: 0.0))
    finally:
        engine.dispose()
    return victim_records(path)


async def test_a_forging_agent_leaves_the_victims_records_exact(
    tmp_path: Path, bus: SecureBroker, gateway_factory: Any
) -> None:
    gw = await gateway_factory(gateway_settings(tmp_path, bus))
    spy = Probe(bus, SPY, PASSWORDS[SPY])
    victim = Probe(bus, VICTIM, PASSWORDS[VICTIM])
    attacker = Probe(bus, ATTACKER, PASSWORDS[ATTACKER])
    try:
        assert spy.connected.wait(10)
        spy.client.subscribe(f"{c.TOPIC_ROOT}/{SITE}/agent/+/replay", qos=1)
        messages = victim_messages()
        birth_topic, birth, _ = messages[0]
        assert not victim.publish(birth_topic, c.encode(birth), retain=True).is_failure
        topic, first_state, _ = messages[1]
        assert not victim.publish(topic, c.encode(first_state), retain=True).is_failure

        # The attacker: its own birth also announcing the victim's mill, then its own lathe's first state.
        lathe_state = c.StateMessage(agent=ATTACKER, machine=LATHE, seq=1, ts=at(1), state=c.MachineState())
        claim = c.AgentStatus(agent=ATTACKER, ts=at(0), status="online", machines=(LATHE, MILL))
        assert not attacker.publish(c.agent_topic(SITE, ATTACKER, "status"), c.encode(claim), retain=True).is_failure
        assert not attacker.publish(c.machine_topic(SITE, LATHE, "state"), c.encode(lathe_state)).is_failure
        await until(lambda: len(_rows(gw.db_path, "SELECT id FROM machines")) == 2, what="both machines")
        # The first wall: the ACL refuses the victim's topics outright.
        for refused in (c.machine_topic(SITE, MILL, "event"), c.agent_topic(SITE, VICTIM, "status")):
            reason = attacker.publish(refused, c.encode(forged_seqs()[0]))
            assert reason.getName() == "Not authorized"
        # The second: the gateway refuses what the ACL lets through with the victim's name in it.
        for forged in forged_seqs():
            assert not attacker.publish(c.machine_topic(SITE, LATHE, "event"), c.encode(forged)).is_failure
        # Its own seq far ahead: a gap of its own, asked for in bounded slices.
        own_far = c.PartCounted(
            agent=ATTACKER, machine=LATHE, seq=10**15, ts=at(70), count=1, counter=None, program=None
        )
        assert not attacker.publish(c.machine_topic(SITE, LATHE, "event"), c.encode(own_far)).is_failure
        offline = c.AgentStatus(agent=ATTACKER, ts=at(80), status="offline", machines=(LATHE, MILL))
        assert not attacker.publish(c.agent_topic(SITE, ATTACKER, "status"), c.encode(offline), retain=True).is_failure

        for topic, message, retain in messages[2:]:
            assert not victim.publish(topic, c.encode(message), retain=retain).is_failure
        mill_parts = "SELECT p.id FROM part_counts p JOIN machines m ON m.id = p.machine_id WHERE m.name = 'mill-1'"
        await until(lambda: len(_rows(gw.db_path, mill_parts)) == 1, what="the victim's morning")
        await until(lambda: _agent_status(gw.db_path, ATTACKER) == "offline", what="the attacker offline")
        await until(lambda: len(spy.received) >= 2, timeout_s=10, what="replay requests for the attacker's gap")
        await asyncio.sleep(1.0)  # time for any replay request the forgeries might have caused
    finally:
        for probe in (attacker, victim, spy):
            probe.close()

    assert victim_records(gw.db_path) == reference_records(tmp_path)
    unavailable = _rows(
        gw.db_path,
        "SELECT s.ts FROM state_changes s JOIN machines m ON m.id = s.machine_id "
        "WHERE m.name = 'mill-1' AND s.availability = 'UNAVAILABLE'",
    )
    assert unavailable == []
    requests = [c.decode(m.topic, bytes(m.payload)) for m in spy.received]
    assert requests
    for parsed, request in requests:
        assert isinstance(request, c.ReplayRequest)
        assert parsed.agent == ATTACKER, "no replay request on the victim's topic"
        assert request.last - request.first + 1 <= MAX_SPAN
    reasons = [r for (r,) in _rows(gw.db_path, "SELECT reason FROM dead_letters ORDER BY id")]
    assert sum(f"belongs to agent '{ATTACKER}', not to '{VICTIM}'" in r for r in reasons) == len(forged_seqs())
    assert sum(f"announces machine '{MILL}'" in r for r in reasons) == 1
    assert not any("outbox was reset" in r for r in reasons)


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def _agent_status(path: Path, name: str) -> str | None:
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT status FROM agents WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])
