"""A TLS mosquitto with per-user passwords and the ACL ``atelier bus secure`` generates, for tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from atelier.broker import Broker, free_port
from atelier.bus_security import AgentAccount, acl, tls_listener, write_password_file
from tests.tls_certs import TlsFiles, make_tls_files


@dataclass
class SecureBroker:
    broker: Broker
    tls: TlsFiles
    port: int


def start_secure_broker(
    folder: Path,
    agents: list[AgentAccount],
    gateways: list[str],
    passwords: dict[str, str],
    extra_acl: str = "",
    *,
    gateway_sites: tuple[str, ...] = (),
) -> SecureBroker:
    """The generated ACL (plus ``extra_acl``, e.g. a test observer) behind a TLS listener; the caller stops it.
    ``gateway_sites``: the sites the gateways host (none: every site)."""
    tls = make_tls_files(folder / "tls")
    (folder / "acl").write_text(acl(agents, gateways, gateway_sites) + extra_acl)
    write_password_file(folder / "passwd", passwords)
    port = free_port()
    listener = tls_listener(
        host="127.0.0.1",
        port=port,
        ca_file=tls.ca_file,
        cert_file=tls.cert_file,
        key_file=tls.key_file,
        password_file=folder / "passwd",
        acl_file=folder / "acl",
    )
    # The plain listener of Broker stays for start-up probing; the TLS one is what is tested.
    broker = Broker(data_dir=folder / "broker", extra_config=listener)
    broker.start()
    return SecureBroker(broker, tls, port)


class Probe:
    """A paho client over TLS that records connect and publish acknowledgements, and what it receives."""

    def __init__(
        self, secure: SecureBroker, user: str, password: str, *, will: tuple[str, bytes] | None = None
    ) -> None:
        self.connected = threading.Event()
        self.connect_reason: ReasonCode | None = None
        self.acks: dict[int, ReasonCode] = {}
        self.acked = threading.Condition()
        self.received: list[mqtt.MQTTMessage] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.tls_set(ca_certs=str(secure.tls.ca_file))
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", secure.port)
        self.client.loop_start()

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        self.connect_reason = reason
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.received.append(message)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: ReasonCode, props: object) -> None:
        with self.acked:
            self.acks[mid] = reason
            self.acked.notify_all()

    def publish(self, topic: str, payload: bytes = b"{}", *, retain: bool = False) -> ReasonCode:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, timeout=10)
            return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
