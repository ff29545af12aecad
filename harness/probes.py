"""Waiting on a running system from outside: the gateway's health, the bridges' $SYS announcements."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker

if TYPE_CHECKING:
    from harness.chain import Daemon


def health(port: int) -> dict[str, object]:
    """The gateway's ``/api/health`` on 127.0.0.1:``port``; {} while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
            body: dict[str, object] = json.loads(response.read())
            return body
    except OSError:
        return {}


def wait_until(
    condition: Callable[[], object],
    timeout_s: float,
    what: str,
    poll_s: float = 0.05,
    *,
    daemons: Sequence[Daemon] = (),
) -> None:
    """Until ``condition`` holds; a daemon of ``daemons`` that died meanwhile fails at once, with its log's tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        for daemon in daemons:
            if daemon.process is not None and daemon.process.poll() is not None:
                raise AssertionError(f"{daemon.name} died: {daemon.log.read_text()[-3000:]}")
        time.sleep(poll_s)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


def wait_for_bridges(central: Broker, sites: list[str], timeout_s: float = 60.0) -> None:
    """Until every school's bridge reports itself connected on the central broker ($SYS notification)."""
    up: set[str] = set()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"harness-bridges-{uuid.uuid4().hex[:6]}")

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        name = message.topic.split("/")[3]
        (up.add if message.payload == b"1" else up.discard)(name)

    client.on_message = on_message
    client.connect(central.host, central.port)
    client.subscribe("$SYS/broker/connection/+/state", qos=1)
    client.loop_start()
    try:
        wanted = {f"bridge-{s}" for s in sites}
        wait_until(lambda: wanted <= up, timeout_s, f"{len(wanted)} bridges to connect ({len(up)} up)")
    finally:
        client.disconnect()
        client.loop_stop()


def publish_once(broker: Broker, topic: str, payload: bytes, client_id: str) -> None:
    """One QoS 1 message on ``broker``, sent as a peer on the workshop network would, then disconnect."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
