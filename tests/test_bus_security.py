"""A TLS mosquitto with per-agent passwords and the generated ACL, probed with real paho clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from atelier.broker import Broker, free_port
from atelier.bus_security import AgentAccount, acl, tls_listener, write_password_file
from edge_agent.contract import agent_topic, machine_topic
from tests.tls_certs import TlsFiles, make_tls_files

SITE = "lyon"
AGENT = AgentAccount(agent="pc-1", site=SITE, machines=("mill-1", "lathe-2"))
PASSWORDS = {"pc-1": "agent-secret", "gateway-1": "gateway-secret"}


@dataclass
class SecureBroker:
    broker: Broker
    tls: TlsFiles
    port: int


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    tls = make_tls_files(tmp_path / "tls")
    (tmp_path / "acl").write_text(acl([AGENT], ["gateway-1"]))
    write_password_file(tmp_path / "passwd", PASSWORDS)
    port = free_port()
    listener = tls_listener(
        host="127.0.0.1",
        port=port,
        ca_file=tls.ca_file,
        cert_file=tls.cert_file,
        key_file=tls.key_file,
        password_file=tmp_path / "passwd",
        acl_file=tmp_path / "acl",
    )
    # The plain listener of the fixture stays for start-up probing; the TLS one is what is tested.
    broker = Broker(data_dir=tmp_path / "broker", extra_config=listener)
    broker.start()
    try:
        yield SecureBroker(broker, tls, port)
    finally:
        broker.stop()


class Probe:
    """A paho client that records connect and publish acknowledgements."""

    def __init__(self, secure: SecureBroker, user: str, password: str) -> None:
        self.connected = threading.Event()
        self.connect_reason: ReasonCode | None = None
        self.acks: dict[int, ReasonCode] = {}
        self.acked = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.tls_set(ca_certs=str(secure.tls.ca_file))
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", secure.port)
        self.client.loop_start()

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        self.connect_reason = reason
        self.connected.set()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: ReasonCode, props: object) -> None:
        with self.acked:
            self.acks[mid] = reason
            self.acked.notify_all()

    def publish(self, topic: str) -> ReasonCode:
        info = self.client.publish(topic, b"{}", qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, timeout=10)
            return self.acks[info.mid]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


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
