"""The agent's one MQTT session: the paho client, its TLS and credentials, the Last Will, connect and reconnect.

paho runs its network loop in its own thread; every paho callback is handed to the asyncio loop with
``call_soon_threadsafe``, so what it tells (``Events``) is only ever handled on the loop. paho reconnects by itself
with back-off; a failure is logged once per series of identical ones, so a long outage does not flood the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent import contract
from edge_agent.config import BrokerSection
from edge_agent.errors import EdgeAgentError
from edge_agent.outbox import Outbox
from edge_agent.publisher.status import agent_status
from edge_agent.stats import AgentStats

logger = logging.getLogger(__name__)

_STATUS = contract.DELIVERY["status"]


class Events(Protocol):
    """What the session tells the rest of the publisher, on the asyncio loop."""

    def on_connected(self) -> None: ...
    def on_disconnected(self) -> None: ...
    def on_published(self, mid: int, failed: bool, reason: str) -> None: ...
    def on_replay_request(self, topic: str, payload: bytes) -> None: ...


class Connection:
    def __init__(
        self,
        broker: BrokerSection,
        outbox: Outbox,
        *,
        machines: tuple[str, ...],
        max_inflight: int,
        stats: AgentStats,
        events: Events,
    ) -> None:
        self.broker = broker
        self._outbox = outbox
        self._machines = machines
        self.stats = stats
        self._events = events
        self.status_topic = contract.agent_topic(outbox.site, outbox.agent, "status")
        self._replay_topic = contract.agent_topic(outbox.site, outbox.agent, "replay")
        self.connected = False
        self.stopping = False
        self.alarms_published: tuple[str, ...] = ()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_failure: str | None = None
        self._client = self._make_client(outbox.agent, max_inflight)

    def _make_client(self, agent: str, max_inflight: int) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"atelier-edge-{agent}", protocol=mqtt.MQTTv5)
        will = self._status("offline")
        client.will_set(self.status_topic, will, qos=_STATUS.qos, retain=_STATUS.retain)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls is not None:
            tls = self.broker.tls
            try:
                client.tls_set(
                    ca_certs=str(tls.ca_file) if tls.ca_file else None,
                    certfile=str(tls.cert_file) if tls.cert_file else None,
                    keyfile=str(tls.key_file) if tls.key_file else None,
                )
            except (OSError, ssl.SSLError) as err:
                raise EdgeAgentError(f"broker.tls: cannot load the certificates: {err}") from err
            client.tls_insecure_set(tls.insecure)
        client.reconnect_delay_set(self.broker.reconnect_min_s, self.broker.reconnect_max_s)  # type: ignore[arg-type]
        client.max_inflight_messages_set(max_inflight)
        client.on_connect = self._cb_connect
        client.on_connect_fail = self._cb_connect_fail
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_message = self._cb_message
        return client

    def _status(self, status: str, alarms: tuple[str, ...] = ()) -> bytes:
        return agent_status(self._outbox, self._machines, status, alarms)

    # --- the asyncio side ------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s, clean_start=True
        )
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def announce(self, alarms: tuple[str, ...]) -> None:
        """The retained birth: online, with the outbox's alarms."""
        self.alarms_published = alarms
        self.publish(self.status_topic, self._status("online", alarms), qos=_STATUS.qos, retain=_STATUS.retain)

    def raise_alarms(self, alarms: tuple[str, ...]) -> None:
        for alarm in alarms:
            if alarm not in self.alarms_published:
                logger.error("alarm %s raised on %s", alarm, self.status_topic)
        for alarm in self.alarms_published:
            if alarm not in alarms:
                logger.warning("alarm %s cleared on %s", alarm, self.status_topic)
        self.announce(alarms)

    async def close(self) -> None:
        """Offline status if connected (the Last Will says it otherwise), then disconnect."""
        self.stopping = True
        if self.connected:
            info = self.publish(self.status_topic, self._status("offline"), qos=_STATUS.qos, retain=_STATUS.retain)
            try:
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            except (ValueError, RuntimeError):
                logger.debug("the offline status was not sent; the Last Will says it instead")
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    # --- paho's thread: hand everything to the asyncio loop --------------------------------------

    def _bridge(self, handler: Any, *args: Any) -> None:
        if self._loop is None:
            return
        # RuntimeError: the loop has closed, the agent is shutting down.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(handler, *args)

    def _cb_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._bridge(self._on_refused if reason.is_failure else self._on_connected, str(reason))

    def _cb_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        self._bridge(self._on_unreachable)

    def _cb_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._bridge(self._on_disconnected, str(reason))

    def _cb_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self._bridge(self._events.on_published, mid, reason.is_failure, str(reason))

    def _cb_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._bridge(self._events.on_replay_request, message.topic, bytes(message.payload))

    # --- connection events (asyncio loop) --------------------------------------------------------

    def _on_connected(self, _reason: str) -> None:
        logger.info("connected to broker %s:%d", self.broker.host, self.broker.port)
        self._last_failure = None
        self.connected = self.stats.mqtt_connected = True
        self.stats.mqtt_connects += 1
        self._events.on_connected()  # the birth goes out before the subscription, as it always has
        self._client.subscribe(self._replay_topic, qos=contract.DELIVERY["replay"].qos)

    def _on_refused(self, reason: str) -> None:
        message = (
            f"broker {self.broker.host}:{self.broker.port} refused the connection: {reason}"
            " (check broker.username, broker.password and the broker's access rules)"
        )
        self._failed(logging.ERROR, message)

    def _on_unreachable(self) -> None:
        self._failed(logging.WARNING, f"cannot reach broker {self.broker.host}:{self.broker.port}")

    def _failed(self, level: int, message: str) -> None:
        self.stats.mqtt_connect_failures += 1
        # Once per series of identical failures, so a long outage does not flood the log.
        if message != self._last_failure:
            low, high = self.broker.reconnect_min_s, self.broker.reconnect_max_s
            logger.log(level, "%s; retrying every %.1f-%.1f s", message, low, high)
            self._last_failure = message
        else:
            logger.debug("%s; still retrying", message)

    def _on_disconnected(self, reason: str) -> None:
        was_connected, self.connected = self.connected, False
        self.stats.mqtt_connected = False
        self._events.on_disconnected()
        if was_connected and not self.stopping:
            logger.warning("lost the broker %s:%d (%s); reconnecting", self.broker.host, self.broker.port, reason)
