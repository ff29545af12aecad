"""Two schools bridged to a central broker, with the bridge block ``atelier bus bridge`` prints.

Each school runs its own mosquitto (Atelier's settings plus ``atelier.bridge.bridge_block``) and a
real edge agent with simulated machines named as in the other school; one gateway ingests at the
centre. The central broker stops mid-run, as when the link to the centre is down: what the schools
publish meanwhile waits in their bridge queues and must land exactly once. A replay request
published at the centre must reach the school's agent through the bridge's ``in`` topic. The same
block with TLS and an account, and the ACL entry, as ``atelier bus bridge`` prints them, work
against a central broker with TLS and passwords; the ACL keeps each bridge to its own school's tree.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from atelier.bridge import bridge_block
from atelier.broker import Broker, free_port, wait_for_port
from atelier.bus_security import acl, tls_listener, write_password_file
from edge_agent import contract
from harness import Daemon, edge_toml, health, sim_options, wait_for_bridges, wait_until
from harness.probes import publish_once
from tests.secure_broker import Probe, SecureBroker
from tests.tls_certs import make_tls_files

pytestmark = [pytest.mark.e2e, pytest.mark.fault]

SITES = ("lyon", "nantes")
MACHINES = ("cnc-01", "cnc-02")  # the same names in both schools: the store keys machines by (site, name)
CYCLES = 8


class Network:
    def __init__(self, root: Path, central: Broker) -> None:
        self.root = root
        self.central = central
        self.schools: dict[str, Broker] = {}
        self.daemons: list[Daemon] = []
        self.db = root / "gateway.sqlite"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as conn:
            try:
                return conn.execute(sql).fetchall()
            except sqlite3.OperationalError:
                return []  # schema not created yet

    def records(self, site: str | None = None) -> int:
        paths = (self.root / "records").glob(f"{site or '*'}-*.jsonl")
        return sum(1 for path in paths for line in path.read_text().splitlines() if line.strip())

    def cycles(self) -> list[tuple[Any, ...]]:
        return self.query(
            "SELECT m.site, m.name, a.name, c.seq FROM cycles c JOIN machines m ON m.id = c.machine_id "
            "JOIN agents a ON a.id = c.agent_id"
        )

    def start_gateway(self) -> None:
        port = free_port()
        config = self.root / "gateway.toml"
        config.write_text(
            f'[gateway]\nid = "central-1"\nsite = "+"\n\n'
            f'[broker]\nhost = "{self.central.host}"\nport = {self.central.port}\n\n'
            f'[database]\nurl = "sqlite:///{self.db}"\n\n[ingest]\ngap_timeout_s = 2.0\n\n'
            f'[http]\nhost = "127.0.0.1"\nport = {port}\n'
        )
        gateway = Daemon("gateway", ["gateway", "run", "-c", str(config)], self.root / "gateway.log")
        gateway.start()
        self.daemons.append(gateway)
        wait_for_port("127.0.0.1", port, timeout_s=30)
        wait_until(
            lambda: health(port).get("subscribed") is True, 30, "the gateway to subscribe", 0.1, daemons=self.daemons
        )

    def start_agent(self, seed: int, site: str) -> Daemon:
        machines = {
            m: sim_options(seed + i, CYCLES, cycle_s=0.3, record_path=str(self.root / "records" / f"{site}-{m}.jsonl"))
            for i, m in enumerate(MACHINES)
        }
        config = edge_toml(
            self.root / f"{site}-edge.toml", agent=f"{site}-pc", site=site, broker=self.schools[site],
            state_dir=self.root / f"{site}-edge", machines=machines,
        )  # fmt: skip
        agent = Daemon(f"{site} agent", ["edge", "run", "-c", str(config)], self.root / f"{site}-edge.log")
        agent.start()
        self.daemons.append(agent)
        return agent


@pytest.fixture
def net(tmp_path: Path, broker: Broker) -> Iterator[Network]:
    (tmp_path / "records").mkdir()
    system = Network(tmp_path, broker)
    try:
        for site in SITES:
            school = Broker(data_dir=tmp_path / site)
            school.extra_config = bridge_block(site, broker.host, broker.port, restart_timeout="1 2")
            school.start()
            system.schools[site] = school
        wait_for_bridges(broker, list(SITES), timeout_s=20)
        yield system
    finally:
        for daemon in system.daemons:
            daemon.stop()
        for school in system.schools.values():
            school.stop()


def _atelier(*args: str) -> str:
    """What ``atelier ARGS`` prints, the bridge's password given on its standard input as an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "atelier", *args], input="bridge-secret\n", capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _subscribe(broker: Broker, topic: str, into: list[str]) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-replay-watcher", protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, message: into.append(message.topic)
    subscribed: list[bool] = []
    client.on_subscribe = lambda *_args: subscribed.append(True)
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    deadline = time.monotonic() + 10
    while not subscribed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert subscribed, f"no subscription to {topic} on {broker.port}"
    return client


def _publish(broker: Broker, topic: str, payload: bytes) -> None:
    publish_once(broker, topic, payload, "test-replay-asker")


def test_two_schools_through_bridges_every_cycle_once_across_a_central_outage(net: Network) -> None:
    net.start_gateway()
    agents = {site: net.start_agent(seed, site) for seed, site in enumerate(SITES, start=1)}
    wait_until(lambda: len(net.cycles()) >= 2, 30, "the first cycles at the centre", 0.1, daemons=net.daemons)

    net.central.stop()  # the link to the centre is down; the schools keep publishing into their own brokers
    made = net.records()
    wait_until(lambda: net.records() >= made + 4, 30, "cycles made while the centre is down", 0.1, daemons=net.daemons)
    net.central.start()

    everything = CYCLES * len(MACHINES) * len(SITES)
    wait_until(lambda: net.records() >= everything, 60, "the simulators to finish", 0.1, daemons=net.daemons)
    wait_until(lambda: len(net.cycles()) >= everything, 60, "every cycle at the centre", 0.1, daemons=net.daemons)
    rows = net.cycles()
    assert len(rows) == len({(site, agent, seq) for site, _, agent, seq in rows}) == everything, "a cycle doubled"
    for site in SITES:
        for machine in MACHINES:
            assert sum(1 for r in rows if r[:2] == (site, machine)) == CYCLES, f"{site}/{machine}: cycles lost"
    for site, agent, count, low, high in net.query(
        "SELECT a.site, a.name, count(*), min(m.seq), max(m.seq) FROM messages m JOIN agents a ON a.id = m.agent_id "
        "GROUP BY a.site, a.name"
    ):
        assert (agent, count, low) == (f"{site}-pc", high, 1), f"{site}/{agent}: seqs not 1..{high} once each"

    # Carried by the bridges' queues (cleansession false), not repaired afterwards from the outboxes:
    # with a bridge that forgets what it held while the link was down, gap repair would have to ask.
    for site, agent in agents.items():
        assert "replaying seq" not in agent.log.read_text(), f"{site}: the outage needed a replay"

    # The bridge's `in` topic: a replay request published at the centre reaches the school's agent, and
    # only that school's (the requester's name tells this request from the gateway's own gap repair).
    crossed: list[str] = []
    nantes = _subscribe(net.schools["nantes"], contract.agent_topic("+", "+", "replay"), crossed)
    try:
        request = contract.ReplayRequest(
            agent="lyon-pc", ts=datetime.now(UTC), first=1, last=2, requester="bridge-test"
        )
        _publish(net.central, contract.replay_filter("lyon", "lyon-pc"), contract.encode(request))
        answered = "replaying seq 1..2 for bridge-test"
        wait_until(
            lambda: answered in agents["lyon"].log.read_text(),
            20,
            "the agent to replay seq 1..2",
            0.1,
            daemons=net.daemons,
        )
    finally:
        nantes.disconnect()
        nantes.loop_stop()
    assert not crossed, f"lyon's replay request reached the nantes broker: {crossed}"


def test_bridge_over_tls_as_its_own_user_with_its_own_tree(tmp_path: Path) -> None:
    """The bridge block with TLS and an account, against a central broker with TLS, passwords and the ACL."""
    tls = make_tls_files(tmp_path / "tls")
    port = free_port()
    command = ["bus", "bridge", "lyon", "--central", f"127.0.0.1:{port}", "--cafile", str(tls.ca_file)]
    command += ["--username", "lyon-bridge", "--password-stdin", "--restart-timeout", "1 2"]
    (tmp_path / "acl").write_text(acl([], ["gateway-1"]) + "\n" + _atelier(*command, "--part", "acl"))
    write_password_file(tmp_path / "passwd", {"gateway-1": "gateway-secret", "lyon-bridge": "bridge-secret"})
    listener = tls_listener(
        host="127.0.0.1", port=port, ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file,
        password_file=tmp_path / "passwd", acl_file=tmp_path / "acl",
    )  # fmt: skip
    central = Broker(data_dir=tmp_path / "central", extra_config=listener)
    school = Broker(data_dir=tmp_path / "lyon")
    school.extra_config = "\n" + _atelier(*command, "--part", "block")
    secure = SecureBroker(central, tls, port)
    central.start()
    school.start()
    gateway = Probe(secure, "gateway-1", "gateway-secret")
    at_centre: list[str] = []
    at_school: list[str] = []
    gateway.client.on_message = lambda _c, _u, message: at_centre.append(message.topic)
    watcher = _subscribe(school, contract.agent_topic("lyon", "+", "replay"), at_school)
    try:
        assert gateway.connected.wait(10)
        gateway.client.subscribe(contract.machine_topic("+", "+", "event"), qos=1)
        event = contract.machine_topic("lyon", "cnc-01", "event")
        _publish(school, event, b"{}")  # waits in the bridge's queue until the TLS link is up
        wait_until(lambda: event in at_centre, 20, "the school's event at the centre, over TLS", 0.1)

        replay = contract.replay_filter("lyon", "lyon-pc")
        assert not gateway.publish(replay).is_failure
        wait_until(lambda: replay in at_school, 20, "the centre's replay request at the school", 0.1)

        # What the ACL lets the bridge's account do at the centre: its own tree only.
        bridge = Probe(secure, "lyon-bridge", "bridge-secret")
        try:
            assert bridge.connected.wait(10)
            assert not bridge.publish(contract.machine_topic("lyon", "cnc-02", "event")).is_failure
            assert bridge.publish(contract.machine_topic("nantes", "cnc-01", "event")).getName() == "Not authorized"
        finally:
            bridge.close()
    finally:
        watcher.disconnect()
        watcher.loop_stop()
        gateway.close()
        school.stop()
        central.stop()
