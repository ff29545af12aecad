"""The drain: outbox rows to the broker, at most ``max_inflight`` at a time, marked sent once acknowledged.

A row is marked sent only after the broker's PUBACK (QoS 0 telemetry: once written to the socket), in batches
so a busy agent writes the outbox once per ``flush_s`` rather than once per message. paho keeps the QoS 1
messages it was given and sends them again after a reconnect; on every connect the drain restarts from the
oldest unsent row and skips those paho still holds. Replays come before new rows; refused topics are skipped.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from edge_agent.errors import OutboxError
from edge_agent.outbox import Outbox, OutboxItem
from edge_agent.publisher.refusals import Refusals
from edge_agent.publisher.replay import Replays
from edge_agent.stats import AgentStats

logger = logging.getLogger(__name__)

_RETRY_S = 1.0

Publish = Callable[[OutboxItem], mqtt.MQTTMessageInfo]


class Drain:
    def __init__(
        self,
        outbox: Outbox,
        stats: AgentStats,
        *,
        max_inflight: int,
        flush_s: float,
        publish: Publish,
        replays: Replays,
        refusals: Refusals,
        wake_in: Callable[[float], None],
    ) -> None:
        self.outbox = outbox
        self.stats = stats
        self.max_inflight = max_inflight
        self.flush_s = flush_s
        self._publish = publish
        self._replays = replays
        self._refusals = refusals
        self._wake_in = wake_in
        self.inflight: dict[int, OutboxItem] = {}  # by paho's message id
        self._acked: list[int] = []
        self._acked_since = 0.0
        self._ack_error: str | None = None
        self._cursor = 0
        self._buffer: deque[OutboxItem] = deque()

    @property
    def acks_waiting(self) -> bool:
        """Acknowledgements not yet written to the outbox: the run loop wakes within ``flush_s`` for them."""
        return bool(self._acked)

    def restart(self) -> None:
        """Read the outbox again from its oldest unsent row (a reconnect, a topic offered again)."""
        self.flush_acks(force=True)
        self._cursor = 0
        self._buffer.clear()

    def fill(self) -> None:
        while len(self.inflight) < self.max_inflight:
            item = self._next_item()
            if item is None:
                break
            self._send(item)

    def published(self, mid: int, failed: bool, reason: str) -> bool:
        """The broker's answer to ``mid``; False if it was none of the drain's (birth, status, before a reconnect)."""
        item = self.inflight.pop(mid, None)
        if item is None:
            return False
        if failed:
            self._refusals.refused(item, reason)
        else:
            self.stats.acknowledged += 1
            if not self._acked:
                self._acked_since = time.monotonic()
            self._acked.append(item.id)
        return True

    def disconnected(self) -> None:
        # QoS 0 packets not yet written are gone; paho keeps QoS 1 ones and sends them again.
        for mid in [mid for mid, item in self.inflight.items() if item.qos == 0]:
            del self.inflight[mid]

    def flush_acks(self, *, force: bool) -> None:
        if not self._acked:
            return
        due = len(self._acked) >= max(1, self.max_inflight // 2) or time.monotonic() - self._acked_since >= self.flush_s
        if not (force or due):
            return
        try:
            self.outbox.mark_sent(self._acked)
        except OutboxError as err:
            # Not fatal: an unmarked row is only published once more. Once per series (a full disk lasts).
            if str(err) != self._ack_error:
                logger.error("cannot record acknowledgements: %s", err)  # noqa: TRY400 - one line, no traceback
            self._ack_error = str(err)
            return
        self._acked, self._ack_error = [], None

    def _next_item(self) -> OutboxItem | None:
        while (item := self._next_candidate()) is not None:
            if not self._refusals.held(item.topic):
                return item
        return None

    def _next_candidate(self) -> OutboxItem | None:
        if (replayed := self._replays.next()) is not None:
            return replayed
        if not self._buffer:
            held = {item.id for item in self.inflight.values()}
            try:
                batch = self.outbox.pending(max(4 * self.max_inflight, 1000), after_id=self._cursor)
            except OutboxError as err:
                logger.error("cannot read the outbox, trying again in %.0f s: %s", _RETRY_S, err)  # noqa: TRY400
                self._wake_in(_RETRY_S)
                return None
            if batch:
                self._cursor = batch[-1].id
            self._buffer.extend(item for item in batch if item.id not in held)
        return self._buffer.popleft() if self._buffer else None

    def _send(self, item: OutboxItem) -> None:
        info = self._publish(item)
        # Without a connection paho drops a QoS 0 message but keeps a QoS 1 one for the reconnect.
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and item.qos):
            self.inflight[info.mid] = item
            self.stats.published += 1
