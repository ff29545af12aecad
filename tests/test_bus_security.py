"""A TLS mosquitto with per-agent passwords and the generated ACL, probed with real paho clients."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from atelier.broker import broker_settings, free_port
from atelier.bus_security import AgentAccount, acl
from edge_agent.config import BrokerSection
from edge_agent.contract import MAX_PAYLOAD_BYTES, agent_topic, machine_topic, network_topic
from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher
from tests.edge_agent.mqtt_probe import eventually
from tests.edge_agent.test_agent import SIMULATOR, start_agent
from tests.edge_agent.test_metrics import until
from tests.edge_agent.test_publisher import drafts, running
from tests.secure_broker import Probe, SecureBroker, start_secure_broker

SITE = "lyon"
AGENT = AgentAccount(agent="pc-1", site=SITE, machines=("mill-1", "lathe-2"))
PASSWORDS = {"pc-1": "agent-secret", "gateway-1": "gateway-secret"}


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    secure = start_secure_broker(tmp_path, [AGENT], ["gateway-1"], PASSWORDS)
    try:
        yield secure
    finally:
        secure.broker.stop()


def test_agent_publishes_only_under_its_own_machines(secure_broker: SecureBroker) -> None:
    probe = Probe(secure_broker, "pc-1", "agent-secret")
    try:
        assert probe.connected.wait(10)
        assert probe.connect_reason is not None
        assert not probe.connect_reason.is_failure
        assert not probe.publish(machine_topic(SITE, "mill-1", "event")).is_failure
        assert not probe.publish(agent_topic(SITE, "pc-1", "status")).is_failure
        denied = probe.publish(machine_topic(SITE, "someone-elses-mill", "event"))
        assert denied.is_failure
        assert denied.getName() == "Not authorized"
        assert probe.publish(agent_topic(SITE, "pc-2", "status")).is_failure
    finally:
        probe.close()


def test_gateway_may_only_ask_for_replays(secure_broker: SecureBroker) -> None:
    probe = Probe(secure_broker, "gateway-1", "gateway-secret")
    try:
        assert probe.connected.wait(10)
        assert not probe.publish(agent_topic(SITE, "pc-1", "replay")).is_failure
        assert probe.publish(machine_topic(SITE, "mill-1", "event")).is_failure
    finally:
        probe.close()


def test_a_pool_hosting_a_list_of_sites_asks_only_their_agents_and_publishes_only_their_aggregates(
    tmp_path: Path,
) -> None:
    secure = start_secure_broker(tmp_path, [AGENT], ["pool"], {"pool": "pool-secret"}, gateway_sites=("morez", "dole"))
    probe = Probe(secure, "pool", "pool-secret")
    try:
        assert probe.connected.wait(10)
        for site in ("morez", "dole"):
            assert not probe.publish(agent_topic(site, "pc-1", "replay")).is_failure
            assert not probe.publish(network_topic(site)).is_failure
        assert probe.publish(agent_topic(SITE, "pc-1", "replay")).is_failure  # lyon has a gateway of its own
        assert probe.publish(network_topic(SITE)).is_failure
    finally:
        probe.close()
        secure.broker.stop()


def test_wrong_password_is_refused(secure_broker: SecureBroker) -> None:
    probe = Probe(secure_broker, "pc-1", "not-the-password")
    try:
        assert probe.connected.wait(10)
        assert probe.connect_reason is not None
        assert probe.connect_reason.is_failure
        assert probe.connect_reason.getName() in {"Bad user name or password", "Not authorized"}
    finally:
        probe.close()


def test_acl_text_names_every_grant() -> None:
    text = acl([AGENT], ["gateway-1"])
    assert "user pc-1\ntopic write atelier/v1/lyon/mill-1/state" in text
    assert "topic read atelier/v1/lyon/agent/pc-1/replay" in text
    assert "user gateway-1\ntopic read atelier/v1/+/+/state" in text


# --- the real agent against the secured broker ------------------------------------------------------------------


def agent_config(tmp_path: Path, secure: SecureBroker, *, password: str, metrics_port: int) -> Path:
    """The agent ``pc-1`` with one machine its ACL grants (mill-1) and one it does not (lathe-9)."""
    text = f"""
[agent]
id = "pc-1"
site = "{SITE}"
state_dir = "{tmp_path / "state"}"
metrics_listen = "127.0.0.1:{metrics_port}"

[broker]
host = "127.0.0.1"
port = {secure.port}
username = "pc-1"
password = "{password}"
reconnect_min_s = 0.2
reconnect_max_s = 3.2

[broker.tls]
ca_file = "{secure.tls.ca_file}"
"""
    for seed, machine in enumerate(("mill-1", "lathe-9"), start=1):
        text += f'\n[[machines]]\nid = "{machine}"\ndriver = "simulator"\n' + SIMULATOR.format(seed=seed)
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def stop(agent: subprocess.Popen[bytes]) -> str:
    agent.send_signal(signal.SIGTERM)
    out, err = agent.communicate(timeout=20)
    return out.decode() + err.decode()


def unsent_by_machine(state_dir: Path) -> dict[str, int]:
    with closing(sqlite3.connect(state_dir / "outbox.sqlite")) as db:
        rows = db.execute("SELECT topic FROM items WHERE kind = 0 AND sent IS NULL").fetchall()
    return dict(Counter(topic.split("/")[3] for (topic,) in rows))


def test_real_agent_over_tls_publishes_its_machines_and_keeps_what_the_acl_refuses(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    port = free_port()
    agent = start_agent(agent_config(tmp_path, secure_broker, password="agent-secret", metrics_port=port))
    try:
        scraped = until(
            port,
            lambda s: (
                s.value("atelier_edge_messages_acknowledged_total") > 50
                and s.value("atelier_edge_messages_refused_total") >= 2
            ),
            "acknowledged and refused messages",
        )
        assert scraped.value("atelier_edge_mqtt_connected") == 1
        # A refusal costs no connection (see atelier/broker.py on max_queued_messages), and is not retried at once.
        assert scraped.value("atelier_edge_mqtt_reconnects_total") == 0
    finally:
        log = stop(agent)
    assert agent.returncode == 0, log
    # Refused events stay in the outbox for when the ACL is fixed; the granted machine's are all delivered.
    unsent = unsent_by_machine(tmp_path / "state")
    assert unsent.get("lathe-9", 0) > 0
    assert "mill-1" not in unsent
    # Only what was in flight when the first refusal came back was refused; the rest was held back.
    assert scraped.value("atelier_edge_messages_refused_total") < unsent["lathe-9"] / 4
    refusals = [line for line in log.splitlines() if "refused a message on atelier/v1/lyon/lathe-9/" in line]
    assert refusals, log
    assert "Not authorized" in refusals[0]
    assert "offered again in 300 s: fix the broker's access rules" in refusals[0]
    assert len(refusals) <= 2, "one line per refused topic (event, state), not one per message"
    assert "Traceback" not in log


def test_real_agent_with_a_wrong_password_says_so_once_and_backs_off(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    port = free_port()
    agent = start_agent(agent_config(tmp_path, secure_broker, password="wrong", metrics_port=port))
    try:
        until(port, lambda s: s.value("atelier_edge_mqtt_connect_failures_total") >= 1, "a refused connection")
        started = time.monotonic()
        time.sleep(6.0)
        failures = until(port, lambda s: True, "a scrape").value("atelier_edge_mqtt_connect_failures_total")
        elapsed = time.monotonic() - started
    finally:
        log = stop(agent)
    # Doubling from 0.2 s towards 3.2 s: about 0.2+0.4+0.8+1.6+3.2 s for five attempts; a fixed 0.2 s would be 30.
    assert 2 <= failures <= 8, f"{failures} attempts in {elapsed:.1f} s"
    errors = [line for line in log.splitlines() if "refused the connection" in line]
    assert len(errors) == 1, log
    assert "Not authorized" in errors[0] or "Bad user name or password" in errors[0]
    assert "check broker.username, broker.password" in errors[0]
    assert "Traceback" not in log


async def test_a_refused_topic_is_held_back_then_offered_again(secure_broker: SecureBroker, tmp_path: Path) -> None:
    outbox = Outbox(
        tmp_path / "outbox.sqlite", agent="pc-1", site=SITE, event_budget=1000, telemetry_budget=100, retention_s=3600
    )
    broker = BrokerSection.model_validate(
        {
            "host": "127.0.0.1",
            "port": secure_broker.port,
            "username": "pc-1",
            "password": "agent-secret",
            "tls": {"ca_file": str(secure_broker.tls.ca_file)},
        }
    )
    publisher = Publisher(broker, outbox, machines=("mill-1", "lathe-9"), max_inflight=1, refused_retry_s=1.0)
    outbox.put("lathe-9", drafts(3))
    outbox.put("mill-1", drafts(3))
    try:
        async with running(publisher):
            await eventually(lambda: outbox.stats().unsent_events == 3, what="mill-1 past the refused rows")
            assert publisher.stats.refused == 1, "the other rows of the refused topic were held back"
            await eventually(lambda: publisher.stats.refused >= 2, timeout_s=5, what="the topic offered again")
            assert publisher.stats.mqtt_reconnects == 0
    finally:
        outbox.close()


def test_the_shipped_settings_cap_packets_at_the_contracts_limit_and_the_guide_shows_them() -> None:
    settings = broker_settings(data_dir="/var/lib/mosquitto", user="mosquitto")
    assert f"\nmax_packet_size {MAX_PAYLOAD_BYTES + 1024}\n" in settings
    assert "message_size_limit" not in settings
    guide = (Path(__file__).resolve().parent.parent / "docs" / "broker.md").read_text()
    assert settings in guide, "docs/broker.md shows the settings atelier/broker.py ships"
