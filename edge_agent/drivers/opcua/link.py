"""One live OPC UA session: data-change and alarm-event subscription, polled nodes and the watchdog.

The well-known failure of OPC UA clients is a subscription that is silently
dead after a server restart: the socket may come back, the session may be
recreated, but nobody re-creates the monitored items. Here nothing is repaired
in place. The watchdog reads the server's state and start time at an interval,
watches the subscription's keep-alives and status changes, and raises
``DriverError`` on anything wrong; ``pipeline.run_machine`` marks the machine
UNAVAILABLE and a fresh ``readings()`` call builds a new session and
subscription from scratch, alarm events and ConditionRefresh included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeEvent, OpcEvent, OverflowPolicy, StatusChangeEvent, Subscription

from edge_agent.drivers import Reading
from edge_agent.drivers.opcua.alarms import ActiveAlarms, AlarmSource
from edge_agent.drivers.opcua.nodes import BoundNode, read, reading
from edge_agent.drivers.opcua.options import OpcUaOptions
from edge_agent.errors import DriverError

logger = logging.getLogger(__name__)

# Services a control may refuse; the driver then polls instead of subscribing.
NO_SUBSCRIPTIONS = frozenset(
    {
        ua.StatusCodes.BadServiceUnsupported,
        ua.StatusCodes.BadTooManySubscriptions,
        ua.StatusCodes.BadNotSupported,
        ua.StatusCodes.BadNotImplemented,
    }
)
INBOX_LIMIT = 100_000
EVENT_QUEUE = 1000  # alarm events the server may hold for us between two publish responses
WATCHED = (ua.ObjectIds.Server_ServerStatus_State, ua.ObjectIds.Server_ServerStatus_StartTime)


def alarm_list(item: Reading) -> Reading:
    """An alarm number as the list of active alarm codes: 0 (or nothing) means no alarm."""
    value = item.value
    codes = [] if value in (None, 0, "", "0") else [str(value)]
    return Reading(item.key, codes, item.ts)


class Inbox:
    """Collects what the subscription delivers until the driver takes it as one batch.

    One task (``pump``) moves asyncua's notifications in from its queue. asyncua's
    handler interface would start a task per notification instead, which at
    thousands of notifications a second was the largest share of the agent's
    own CPU. asyncua queues a publish response's notifications back to back and
    the pump takes them all before the driver resumes, so what is taken together
    arrived together.
    """

    def __init__(self, keys: dict[ua.NodeId, list[str]], alarms: ActiveAlarms | None) -> None:
        self._keys = keys
        self._alarms = alarms
        self._readings: list[Reading] = []
        self._wakeup = asyncio.Event()
        self.status: ua.StatusCode | None = None
        self.failure: Exception | None = None

    async def pump(self, subscription: Subscription) -> None:
        try:
            async for event in subscription:
                if isinstance(event, DataChangeEvent):
                    for key in self._keys.get(event.node.nodeid, ()):
                        item = reading(key, event.data.monitored_item.Value)
                        if item is not None:
                            self._readings.append(item)
                elif isinstance(event, OpcEvent):
                    if self._alarms is not None and event.event.event_fields is not None:
                        self._alarms.take(event.event.event_fields)
                elif isinstance(event, StatusChangeEvent):
                    self.status = event.notification.Status
                self._wakeup.set()
        except Exception as err:  # a failure here must end the session, not silence it
            self.failure = err
            self._wakeup.set()

    async def take(self, wait_s: float) -> list[Reading]:
        if not self._wakeup.is_set():
            try:
                async with asyncio.timeout(wait_s):
                    await self._wakeup.wait()
            except TimeoutError:
                return []
        self._wakeup.clear()
        if self.failure is not None:
            raise DriverError(f"cannot read the subscription's notifications: {self.failure}") from self.failure
        if len(self._readings) > INBOX_LIMIT:
            raise DriverError(f"more than {INBOX_LIMIT} notifications waiting; the agent fell behind")
        taken, self._readings = self._readings, []
        return taken


class Link:
    """Streams batches from one connected client until something is wrong, then raises DriverError."""

    def __init__(
        self,
        client: Client,
        options: OpcUaOptions,
        nodes: Sequence[BoundNode],
        alarm_source: AlarmSource | None = None,
        alarms: ActiveAlarms | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.subscribed = [n for n in nodes if n.mode == "subscribe"]
        self.polled = [n for n in nodes if n.mode == "poll"]
        self.alarm_source = alarm_source
        self.alarms = alarms
        self.inbox: Inbox | None = None
        self.subscription: Subscription | None = None
        self.server_started: datetime | None = None
        self.last: dict[str, tuple[Any, datetime]] = {}
        self.alarm_keys = {n.key for n in nodes if n.spec.alarm_number}
        self._pump: asyncio.Task[None] | None = None
        self._opened_at = time.monotonic()

    async def open(self) -> None:
        await self.check()
        if self.subscribed or self.alarm_source is not None:
            await self._subscribe()

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def _subscribe(self) -> None:
        keys: dict[ua.NodeId, list[str]] = {}
        for node in self.subscribed:
            keys.setdefault(node.node_id, []).append(node.key)
        try:
            # Iterator mode (no handler), bounded: a pump that cannot keep up ends the session.
            self.subscription = await self.client.create_subscription(
                self._parameters(), None, queue_maxsize=INBOX_LIMIT, overflow=OverflowPolicy.DISCONNECT
            )
        except ua.UaStatusCodeError as err:
            if err.code not in NO_SUBSCRIPTIONS:
                raise
            logger.warning("server refuses subscriptions (%s); polling every %.1f s", err, self.options.poll_interval_s)
            self.polled += self.subscribed
            self.subscribed = []
        if self.subscription is None:
            if self.alarm_source is not None:
                logger.error("alarm events need a subscription: alarms are not read from this server")
                self.alarm_source = None
            return
        self.inbox = Inbox(keys, self.alarms if self.alarm_source is not None else None)
        self._pump = asyncio.create_task(self.inbox.pump(self.subscription), name="opcua-notifications")
        self._opened_at = time.monotonic()
        if not keys:
            return
        nodes = [self.client.get_node(node_id) for node_id in keys]
        results = await self.subscription.subscribe_data_change(
            nodes, sampling_interval=self.options.sampling_interval_ms
        )
        for node_id, result in zip(keys, results, strict=True):
            if isinstance(result, ua.StatusCode):
                names = ", ".join(keys[node_id])
                logger.warning("cannot monitor %s (%s): %s; polling it instead", names, node_id, result.name)
                self.polled += [n for n in self.subscribed if n.node_id == node_id]

    async def watch_alarms(self) -> str | None:
        """Subscribe to the alarm events and ask for the active conditions; return why not, if it failed."""
        source, subscription = self.alarm_source, self.subscription
        if source is None or subscription is None or self.alarms is None:
            return None
        self.alarms.new_session()
        try:
            await subscription.subscribe_events(source.node_id, evfilter=source.filter, queuesize=EVENT_QUEUE)
        except ua.UaStatusCodeError as err:
            return f"the server refuses events from node {source.node_id.to_string()}: {err}"
        try:
            await asyncio.wait_for(
                self.client.get_node(ua.ObjectIds.ConditionType).call_method(
                    ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh),
                    ua.Variant(subscription.subscription_id, ua.VariantType.UInt32),
                ),
                self.options.request_timeout_s,
            )
        except ua.UaStatusCodeError as err:
            logger.info(
                "server has no ConditionRefresh (%s); the alarms known before stay until the control reports them",
                type(err).__name__,
            )
        return None

    def alarm_snapshot(self) -> list[Reading]:
        """The alarm list as known, for the session's first batch (empty when alarms are not read or never were)."""
        item = self.alarms.snapshot() if self.alarms is not None and self.alarm_source is not None else None
        return [] if item is None else [item]

    def _parameters(self) -> ua.CreateSubscriptionParameters:
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = self.options.publishing_interval_ms
        params.RequestedMaxKeepAliveCount = self.options.keepalive_count
        params.RequestedLifetimeCount = self.options.keepalive_count * 10
        params.MaxNotificationsPerPublish = 10_000
        params.PublishingEnabled = True
        params.Priority = 0
        return params

    def fresh(self, readings: Sequence[Reading]) -> list[Reading]:
        """Drop readings identical (value and source time) to the last one of their key."""
        out = []
        for raw in readings:
            item = alarm_list(raw) if raw.key in self.alarm_keys else raw
            if self.last.get(item.key) != (item.value, item.ts):
                self.last[item.key] = (item.value, item.ts)
                out.append(item)
        return out

    async def batches(self) -> AsyncIterator[list[Reading]]:
        loop = asyncio.get_running_loop()
        next_poll = loop.time() + self.options.poll_interval_s
        next_check = loop.time() + self.options.watchdog_interval_s
        while True:
            due = min(next_check, next_poll) if self.polled else next_check
            wait = max(due - loop.time(), 0.0)
            if self.inbox is not None:
                batch = self.fresh(await self.inbox.take(wait))
                alarms = self.alarms.pending() if self.alarms is not None and self.alarm_source is not None else None
                if alarms is not None:
                    batch.append(alarms)
            else:
                await asyncio.sleep(wait)
                batch = []
            self._check_status()
            if batch:
                yield batch
            now = loop.time()
            if self.polled and now >= next_poll:
                next_poll = now + self.options.poll_interval_s
                polled = await self.poll()
                if polled:
                    yield polled
            if now >= next_check:
                next_check = now + self.options.watchdog_interval_s
                await self.check()

    async def poll(self) -> list[Reading]:
        values = await asyncio.wait_for(read(self.client, self.polled), self.options.request_timeout_s)
        items = (reading(node.key, value) for node, value in zip(self.polled, values, strict=True))
        return self.fresh([item for item in items if item is not None])

    def _check_status(self) -> None:
        status = self.inbox.status if self.inbox is not None else None
        if status is not None and not status.is_good():
            raise DriverError(f"the server ended our subscription ({status.name})")

    async def check(self) -> None:
        """The watchdog: raise DriverError unless the session and the subscription are alive."""
        if self.client.state is not UaClientState.CONNECTED:
            raise DriverError("connection to the server lost")
        params = ua.ReadParameters()
        for identifier in WATCHED:
            params.NodesToRead.append(ua.ReadValueId(NodeId=ua.NodeId(identifier), AttributeId=ua.AttributeIds.Value))
        state, started = await asyncio.wait_for(self.client.uaclient.read(params), self.options.request_timeout_s)
        if state.Value is not None and state.Value.Value not in (ua.ServerState.Running, 0):
            raise DriverError(f"server state is {ua.ServerState(state.Value.Value).name}")
        start_ts = started.Value.Value if started.Value is not None else None
        if self.server_started is None:
            self.server_started = start_ts
        elif start_ts != self.server_started:
            raise DriverError(f"the server restarted (start time {start_ts}); subscribing again")
        self._check_keepalive()

    def _check_keepalive(self) -> None:
        if self.inbox is None or self.subscription is None:
            return
        last = max(self._opened_at, self.subscription.last_publish_at or 0.0)
        keepalive_s = self.options.publishing_interval_ms * self.options.keepalive_count / 1000
        limit = 2 * keepalive_s + self.options.watchdog_interval_s + self.options.request_timeout_s
        silent = time.monotonic() - last
        if silent > limit:
            raise DriverError(f"no data and no keep-alive from the subscription for {silent:.1f} s; subscribing again")
