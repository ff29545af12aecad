"""Drains the outbox to the MQTT broker: QoS 1 events, a retained birth and a Last Will.

``Publisher`` is the face the agent sees (``run``, ``wake``, ``stop``, ``connected``, ``stats``); the jobs are
in their own modules:

- ``connection``: the paho client, TLS and credentials, the Last Will, connect and reconnect, paho's thread
  handed to the asyncio loop;
- ``drain``: outbox rows to the broker, in flight until acknowledged, then marked sent;
- ``replay``: the gateway's replay requests, served from the outbox ahead of new rows;
- ``refusals``: topics the broker's ACL refused, held back, then offered again;
- ``status``: the retained status message and the outbox's alarms on it.

Everything runs on the asyncio loop, so the outbox is only ever touched from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from edge_agent.config import BrokerSection
from edge_agent.outbox import Outbox, OutboxItem
from edge_agent.publisher.connection import Connection
from edge_agent.publisher.drain import Drain
from edge_agent.publisher.refusals import REFUSED_RETRY_S, Refusals
from edge_agent.publisher.replay import MAX_REPLAY, Replays
from edge_agent.publisher.status import OVER_BUDGET_ALARM, WRITE_FAILED_ALARM, outbox_alarms
from edge_agent.stats import AgentStats

__all__ = ["MAX_REPLAY", "OVER_BUDGET_ALARM", "REFUSED_RETRY_S", "WRITE_FAILED_ALARM", "Publisher"]

logger = logging.getLogger(__name__)


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
        self.outbox = outbox
        # Called after the birth of every connection but the first: the machines state their state
        # again, for the gateway marked them UNAVAILABLE if the Last Will went (pipeline.Reassertions).
        self.on_reconnect = on_reconnect
        self._connected_before = False
        self.stats = stats or AgentStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._flush_s = flush_s
        self.connection = Connection(
            broker, outbox, machines=machines, max_inflight=max_inflight, stats=self.stats, events=self
        )
        self.replays = Replays(outbox, self.stats)
        self.refusals = Refusals(broker, self.stats, retry_s=refused_retry_s, wake_in=self._wake_in)
        self.drain = Drain(
            outbox,
            self.stats,
            max_inflight=max_inflight,
            flush_s=flush_s,
            publish=self._publish,
            replays=self.replays,
            refusals=self.refusals,
            wake_in=self._wake_in,
        )

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = self.connection.stopping = True
        self.wake()

    async def run(self, grace_s: float = 3.0) -> None:
        """Connect, drain until ``stop()``, then give in-flight messages ``grace_s`` and go offline."""
        self._loop = asyncio.get_running_loop()
        self.connection.start()
        try:
            while not self._stopping:
                await self._wait()
                self._pump()
            await self._settle(grace_s)
        finally:
            await self._shutdown()

    # --- what the connection tells (asyncio loop) ------------------------------------------------

    def on_connected(self) -> None:
        self.drain.restart()
        self.connection.announce(outbox_alarms(self.outbox))
        if self.on_reconnect is not None and self._connected_before:
            self.on_reconnect()
        self._connected_before = True
        self.wake()

    def on_disconnected(self) -> None:
        self.drain.disconnected()

    def on_published(self, mid: int, failed: bool, reason: str) -> None:
        if self.drain.published(mid, failed, reason):
            self.wake()

    def on_replay_request(self, topic: str, payload: bytes) -> None:
        if self.replays.requested(topic, payload):
            self.wake()

    # --- the loop --------------------------------------------------------------------------------

    def _publish(self, item: OutboxItem) -> mqtt.MQTTMessageInfo:
        return self.connection.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)

    def _wake_in(self, delay_s: float) -> None:
        if self._loop is not None:
            self._loop.call_later(delay_s, self.wake)

    async def _wait(self) -> None:
        timeout = self._flush_s if self.drain.acks_waiting else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    def _pump(self) -> None:
        self.drain.flush_acks(force=False)
        if not self.connection.connected:
            return
        if self.refusals.expire():
            self.drain.restart()
        self.drain.fill()
        if (alarms := outbox_alarms(self.outbox)) != self.connection.alarms_published:
            self.connection.raise_alarms(alarms)

    async def _settle(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self.connection.connected and self.drain.inflight and (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(remaining, self._flush_s))
            self._wake.clear()
        self.drain.flush_acks(force=True)

    async def _shutdown(self) -> None:
        self._stopping = True
        await self.connection.close()
        self.drain.flush_acks(force=True)
        logger.info("publisher stopped")
