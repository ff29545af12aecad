"""A real paho subscriber for tests: records what the broker delivers, in its own network thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from atelier.broker import Broker


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


class Probe:
    """Subscribes to ``topics`` at QoS 1; ``persistent`` keeps a broker session across disconnects."""

    def __init__(
        self, broker: Broker, topics: list[str], *, client_id: str = "probe", persistent: bool = False
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.persistent = persistent
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(0.1, 0.3)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message

    def start(self) -> Probe:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self.persistent:
            properties.SessionExpiryInterval = 3600
        self.client.connect(self.broker.host, self.broker.port, clean_start=not self.persistent, properties=properties)
        self.client.loop_start()
        assert self._subscribed.wait(10), "probe did not subscribe"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if not flags.session_present:
            client.subscribe([(topic, 1) for topic in self.topics])
        else:
            self._subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(Received(message.topic, bytes(message.payload), message.qos, bool(message.retain)))

    def messages(self, suffix: str = "") -> list[Received]:
        with self._lock:
            return [m for m in self.received if m.topic.endswith(suffix)]

    def seqs(self) -> list[int]:
        """``seq`` of every state and event message received, duplicates included, in arrival order."""
        return [m.data["seq"] for m in self.messages() if m.topic.endswith(("/state", "/event"))]

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; received {len(self.received)} messages")

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)


async def eventually(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
    """Poll ``condition`` without blocking the event loop the code under test runs on."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
