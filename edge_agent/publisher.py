"""Drains the outbox to the MQTT broker: QoS 1 events, a retained birth and a Last Will.

paho runs its network loop in its own thread; every paho callback is handed to
the asyncio loop with ``call_soon_threadsafe``, so the outbox is only ever
touched from the loop. A row is marked sent only after the broker's PUBACK
(QoS 0 telemetry: once written to the socket); a PUBACK with a failure reason
(a topic the broker's ACL denies) leaves it unsent. paho keeps the QoS 1 messages
it was given and sends them again after a reconnect; on every connect the
drain restarts from the oldest unsent row and skips those paho still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent import __version__, contract
from edge_agent.config import BrokerSection
from edge_agent.errors import EdgeAgentError, OutboxError
from edge_agent.outbox import Outbox, OutboxItem
from edge_agent.stats import AgentStats

logger = logging.getLogger(__name__)

OVER_BUDGET_ALARM = "outbox_over_budget"
# The outbox cannot store (disk full, read-only, I/O error): events wait in memory until it can.
WRITE_FAILED_ALARM = "outbox_write_failed"
# A replay is for repairing gaps, not for re-sending a day of history in one go.
MAX_REPLAY = 100_000
_RETRY_S = 1.0
# A topic the broker refused is not offered again for this long: its rows wait in the outbox. mosquitto 2.0.11
# also drops the connection on the packet after a refused one, so retrying at once would loop reconnecting and
# hold back every other machine of the agent behind the refused rows.
REFUSED_RETRY_S = 300.0
_STATUS = contract.DELIVERY["status"]


class Publisher:
    def __init__(
        self,
        broker: BrokerSection,
        outbox: Outbox,
        *,
        machines: tuple[str, ...],
        max_inflight: int,
        flush_s: float = 0.05,
        stats: AgentStats | None = None,
        refused_retry_s: float = REFUSED_RETRY_S,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.broker = broker
        # Called after the birth of every connection but the first: the machines state their state
        # again, for the gateway marked them UNAVAILABLE if the Last Will went (pipeline.Reassertions).
        self.on_reconnect = on_reconnect
        self.outbox = outbox
        self.agent, self.site = outbox.agent, outbox.site
        self.machines = machines
        self.max_inflight = max_inflight
        self._flush_s = flush_s
        self.stats = stats or AgentStats()
        self._status_topic = contract.agent_topic(self.site, self.agent, "status")
        self._replay_topic = contract.agent_topic(self.site, self.agent, "replay")
        self._client = self._make_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self.connected = False
        self._connected_before = False
        self._inflight: dict[int, OutboxItem] = {}  # by paho's message id
        self._acked: list[int] = []
        self._acked_since = 0.0
        self._cursor = 0
        self._buffer: deque[OutboxItem] = deque()
        self._replays: deque[OutboxItem] = deque()
        self._alarms_published: tuple[str, ...] = ()
        self._last_failure: str | None = None
        self._ack_error: str | None = None
        self._refused_topics: dict[str, float] = {}  # topic -> monotonic time it may be published again
        self._refused_retry_s = refused_retry_s

    # --- set-up -----------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"atelier-edge-{self.agent}", protocol=mqtt.MQTTv5)
        will = self._status("offline")
        client.will_set(self._status_topic, contract.encode(will), qos=_STATUS.qos, retain=_STATUS.retain)
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
        client.max_inflight_messages_set(self.max_inflight)
        client.on_connect = self._cb_connect
        client.on_connect_fail = self._cb_connect_fail
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_message = self._cb_message
        return client

    def _status(self, status: str, alarms: tuple[str, ...] = ()) -> contract.AgentStatus:
        return contract.AgentStatus(
            agent=self.agent,
            ts=datetime.now(UTC),
            status=status,
            version=__version__,
            machines=self.machines,
            site=self.site,
            alarms=alarms,
        )

    # --- paho's thread: hand everything to the asyncio loop ---------------

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
        self._bridge(self._on_published, mid, reason.is_failure, str(reason))

    def _cb_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._bridge(self._on_replay_request, message.topic, bytes(message.payload))

    # --- connection events (asyncio loop) -----------------------------------

    def _on_connected(self, _reason: str) -> None:
        logger.info("connected to broker %s:%d", self.broker.host, self.broker.port)
        self._last_failure = None
        self.connected = self.stats.mqtt_connected = True
        self.stats.mqtt_connects += 1
        self._flush_acks(force=True)
        self._cursor = 0
        self._buffer.clear()
        self._alarms_published = alarms = self._alarms()
        self._client.publish(
            self._status_topic, contract.encode(self._status("online", alarms)), qos=_STATUS.qos, retain=_STATUS.retain
        )
        self._client.subscribe(self._replay_topic, qos=contract.DELIVERY["replay"].qos)
        if self.on_reconnect is not None and self._connected_before:
            self.on_reconnect()
        self._connected_before = True
        self.wake()

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
        # QoS 0 packets not yet written are gone; paho keeps QoS 1 ones and sends them again.
        for mid in [mid for mid, item in self._inflight.items() if item.qos == 0]:
            del self._inflight[mid]
        if was_connected and not self._stopping:
            logger.warning("lost the broker %s:%d (%s); reconnecting", self.broker.host, self.broker.port, reason)

    def _on_published(self, mid: int, failed: bool, reason: str) -> None:
        item = self._inflight.pop(mid, None)
        if item is None:
            return  # birth, status or a message from before a reconnect
        if failed:
            self._refused(item, reason)
        else:
            self.stats.acknowledged += 1
            if not self._acked:
                self._acked_since = time.monotonic()
            self._acked.append(item.id)
        self.wake()

    def _refused(self, item: OutboxItem, reason: str) -> None:
        # Not marked sent: the row stays in the outbox; its topic is held back, then offered again.
        self.stats.refused += 1
        if item.topic in self._refused_topics:
            logger.debug("broker %s:%d refused seq %d on %s: %s", self.broker.host, self.broker.port,
                         item.seq, item.topic, reason)  # fmt: skip
            return
        self._refused_topics[item.topic] = time.monotonic() + self._refused_retry_s
        if self._loop is not None:
            self._loop.call_later(self._refused_retry_s, self.wake)
        _log_error(
            "broker %s:%d refused a message on %s: %s (user %s); its messages stay unsent in the outbox and are "
            "offered again in %.0f s: fix the broker's access rules for this agent and machine",
            self.broker.host, self.broker.port, item.topic, reason, self.broker.username or "(anonymous)",
            self._refused_retry_s,
        )  # fmt: skip

    def _on_replay_request(self, topic: str, payload: bytes) -> None:
        try:
            _, message = contract.decode(topic, payload)
        except contract.ContractError as err:
            logger.warning("ignored a replay request on %s: %s", topic, err.reason)
            return
        if not isinstance(message, contract.ReplayRequest) or message.first > message.last:
            logger.warning("ignored a replay request on %s: not a valid range", topic)
            return
        last = min(message.last, message.first + MAX_REPLAY - 1)
        try:
            items = self.outbox.replay(message.first, last)
        except OutboxError as err:
            _log_error("cannot replay seq %d..%d: %s", message.first, last, err)
            return
        # An old snapshot must not replace the retained current state.
        self._replays.extend(replace(item, retain=contract.RETAIN_WHEN_REPLAYED) for item in items)
        self.stats.replay_requests += 1
        self.stats.replayed += len(items)
        logger.info(
            "replaying seq %d..%d for %s: %d events still kept",
            message.first, last, message.requester or "?", len(items),
        )  # fmt: skip
        self.wake()

    # --- the drain loop -----------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    async def run(self, grace_s: float = 3.0) -> None:
        """Connect, drain until ``stop()``, then give in-flight messages ``grace_s`` and go offline."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s, clean_start=True
        )
        self._client.loop_start()
        try:
            while not self._stopping:
                await self._wait()
                self._pump()
            await self._settle(grace_s)
        finally:
            await self._shutdown()

    async def _wait(self) -> None:
        timeout = self._flush_s if self._acked else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    def _pump(self) -> None:
        self._flush_acks(force=False)
        if not self.connected:
            return
        self._expire_refusals()
        while len(self._inflight) < self.max_inflight:
            item = self._next_item()
            if item is None:
                break
            self._send(item)
        if self._alarms() != self._alarms_published:
            self._publish_alarm()

    def _expire_refusals(self) -> None:
        now = time.monotonic()
        expired = [topic for topic, at in self._refused_topics.items() if at <= now]
        if not expired:
            return
        for topic in expired:
            del self._refused_topics[topic]
        logger.info("offering messages on %s again", ", ".join(expired))
        # Their rows are behind the cursor: read the outbox again from the oldest unsent row.
        self._flush_acks(force=True)
        self._cursor = 0
        self._buffer.clear()

    def _next_item(self) -> OutboxItem | None:
        while (item := self._next_candidate()) is not None:
            if item.topic not in self._refused_topics:
                return item
        return None

    def _next_candidate(self) -> OutboxItem | None:
        if self._replays:
            return self._replays.popleft()
        if not self._buffer:
            held = {item.id for item in self._inflight.values()}
            try:
                batch = self.outbox.pending(max(4 * self.max_inflight, 1000), after_id=self._cursor)
            except OutboxError as err:
                _log_error("cannot read the outbox, trying again in %.0f s: %s", _RETRY_S, err)
                if self._loop is not None:
                    self._loop.call_later(_RETRY_S, self.wake)
                return None
            if batch:
                self._cursor = batch[-1].id
            self._buffer.extend(item for item in batch if item.id not in held)
        return self._buffer.popleft() if self._buffer else None

    def _send(self, item: OutboxItem) -> None:
        info = self._client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
        # Without a connection paho drops a QoS 0 message but keeps a QoS 1 one for the reconnect.
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and item.qos):
            self._inflight[info.mid] = item
            self.stats.published += 1

    def _flush_acks(self, *, force: bool) -> None:
        if not self._acked:
            return
        due = (
            len(self._acked) >= max(1, self.max_inflight // 2) or time.monotonic() - self._acked_since >= self._flush_s
        )
        if not (force or due):
            return
        try:
            self.outbox.mark_sent(self._acked)
        except OutboxError as err:
            # Not fatal: an unmarked row is only published once more. Once per series (a full disk lasts).
            if str(err) != self._ack_error:
                _log_error("cannot record acknowledgements: %s", err)
            self._ack_error = str(err)
            return
        self._acked, self._ack_error = [], None

    def _alarms(self) -> tuple[str, ...]:
        over = (OVER_BUDGET_ALARM,) if self.outbox.over_budget else ()
        return over + ((WRITE_FAILED_ALARM,) if self.outbox.write_error else ())

    def _publish_alarm(self) -> None:
        raised = [a for a in self._alarms() if a not in self._alarms_published]
        cleared = [a for a in self._alarms_published if a not in self._alarms()]
        self._alarms_published = alarms = self._alarms()
        for alarm in raised:
            logger.error("alarm %s raised on %s", alarm, self._status_topic)
        for alarm in cleared:
            logger.warning("alarm %s cleared on %s", alarm, self._status_topic)
        self._client.publish(
            self._status_topic, contract.encode(self._status("online", alarms)), qos=_STATUS.qos, retain=_STATUS.retain
        )

    async def _settle(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self.connected and self._inflight and (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(remaining, self._flush_s))
            self._wake.clear()
        self._flush_acks(force=True)

    async def _shutdown(self) -> None:
        self._stopping = True
        if self.connected:
            info = self._client.publish(
                self._status_topic, contract.encode(self._status("offline")), qos=_STATUS.qos, retain=_STATUS.retain
            )
            try:
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            except (ValueError, RuntimeError):
                logger.debug("the offline status was not sent; the Last Will says it instead")
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._flush_acks(force=True)
        logger.info("publisher stopped")


def _log_error(message: str, *args: object) -> None:
    # An expected failure gets one line; a traceback would only bury the message.
    logger.error(message, *args)
