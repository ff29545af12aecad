"""The gateway's MQTT 5 session: paho's network thread, bridged to the caller by a callback.

A persistent session (clean start off, a long session expiry) keeps what is
published while the gateway is down, and manual acknowledgement lets ingest
acknowledge a message only once its batch is committed: a gateway killed
mid-batch gets those messages again. Each connection has a generation number;
a message received on an earlier connection is never acknowledged on a later
one (the broker redelivers it there under the same packet id, and that copy
is the one to acknowledge).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent import contract
from gateway.config import GatewaySettings
from gateway.ingest.inbox import DRAIN_BATCHES
from gateway.ingest.messages import Received
from gateway.mqtt_session import connect_persistent, session_client

logger = logging.getLogger(__name__)


def topic_filters(settings: GatewaySettings) -> tuple[list[str], list[str]]:
    """(agent status filters, machine filters): status first, so a birth precedes the retained states."""
    # One tree per hosted site: a pool hosting several schools must not ingest the others' bridged events.
    filters = [f for site in settings.gateway.sites for f in contract.subscription(site)]
    status = [f for f in filters if f.endswith("/status")]
    machines = [f for f in filters if f not in status]
    group = settings.ingest.shared_group
    if group:
        # Only the machine stream is split. Every gateway of the group must see every agent birth: it is
        # what makes an agent's machines known, and a gateway that missed it would dead-letter their events.
        machines = [f"$share/{group}/{f}" for f in machines]
    return status, machines


class MqttConsumer:
    def __init__(self, settings: GatewaySettings, deliver: Callable[[Received], None]) -> None:
        self._settings = settings
        self._deliver = deliver
        self._generation = 0
        self._accepting = True
        self.connected = threading.Event()
        self.connections = 0  # successful connections; every one after the first is a reconnection
        self.subscribed = threading.Event()  # every filter of the current connection acknowledged
        self._pending: set[int] = set()
        self._client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        return session_client(
            self._settings,
            self._settings.client_id,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_subscribe=self._on_subscribe,
            on_message=self._on_message,
        )

    def start(self) -> None:
        # Three of the longest batches ingest takes from a backlog ahead of the commits: one written, the next
        # decoded and a third on its way.
        window = min(65535, max(100, self._settings.ingest.batch_size * DRAIN_BATCHES * 3))
        connect_persistent(self._client, self._settings, receive_maximum=window)

    def pause(self) -> None:
        """Stop handing messages on; those not handed on stay unacknowledged and come back next session."""
        self._accepting = False

    def stop(self) -> None:
        self._accepting = False
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
        self.subscribed.clear()

    def ack_id(self, mid: int, qos: int, generation: int) -> None:
        if qos == 0 or generation != self._generation or not self.connected.is_set():
            return
        self._client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> bool:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # --- paho callbacks, on the network thread -------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.warning("broker refused the connection reason=%r", str(reason))
            return
        self._generation += 1
        self.connections += 1
        self.connected.set()
        status, machines = topic_filters(self._settings)
        # Retained messages only for a new subscription: a resumed session already has them.
        options = SubscribeOptions(
            qos=contract.GATEWAY_SUBSCRIBE_QOS, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
        )
        self._pending = set()
        for filters in (status, machines):
            result, mid = client.subscribe([(f, options) for f in filters])
            if result == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                self._pending.add(mid)
        logger.info(
            "connected to broker host=%s port=%d session_present=%s filters=%r",
            self._settings.broker.host,
            self._settings.broker.port,
            bool(flags.session_present),
            status + machines,
        )

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            logger.error("broker refused a subscription reasons=%r", refused)
            return
        self._pending.discard(mid)
        if not self._pending:
            self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if self._accepting:
            logger.warning("disconnected from broker reason=%r; reconnecting", str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._accepting:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # paho exposes only the decoded form; a topic that is not UTF-8 still deserves a dead letter.
            topic = message._topic.decode("utf-8", "replace")
        item = Received(
            topic=topic,
            payload=bytes(message.payload),
            mid=message.mid,
            qos=message.qos,
            retain=bool(message.retain),
            generation=self._generation,
            received_at=datetime.now(UTC),
        )
        try:
            self._deliver(item)
        except Exception:
            # An exception here would end paho's network thread; the message stays unacknowledged.
            logger.exception("could not hand a message on topic=%r", topic)
