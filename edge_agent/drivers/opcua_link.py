"""One live OPC UA session: data-change subscription, polled nodes and the watchdog.

The well-known failure of OPC UA clients is a subscription that is silently
dead after a server restart: the socket may come back, the session may be
recreated, but nobody re-creates the monitored items. Here nothing is repaired
in place. The watchdog reads the server's state and start time at an interval,
watches the subscription's keep-alives and status changes, and raises
``DriverError`` on anything wrong; the supervisor marks the machine
UNAVAILABLE and a fresh ``readings()`` call builds a new session and
subscription from scratch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from asyncua import Client, Node, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeNotif, Subscription

from edge_agent.drivers import Reading
from edge_agent.drivers.opcua_nodes import BoundNode, read, reading
from edge_agent.drivers.opcua_options import OpcUaOptions
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
WATCHED = (ua.ObjectIds.Server_ServerStatus_State, ua.ObjectIds.Server_ServerStatus_StartTime)


def alarm_list(item: Reading) -> Reading:
    """An alarm number as the list of active alarm codes: 0 (or nothing) means no alarm."""
    value = item.value
    codes = [] if value in (None, 0, "", "0") else [str(value)]
    return Reading(item.key, codes, item.ts)


class Inbox:
    """The subscription's handler: collects notifications until the driver takes them as one batch.

    asyncua delivers the notifications of one publish response back to back,
    before the waiting driver resumes, so what is taken together arrived together.
    """

    def __init__(self, keys: dict[ua.NodeId, list[str]]) -> None:
        self._keys = keys
        self._readings: list[Reading] = []
        self._wakeup = asyncio.Event()
        self.status: ua.StatusCode | None = None
        self.last_seen = time.monotonic()

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self.last_seen = time.monotonic()
        for key in self._keys.get(node.nodeid, ()):
            item = reading(key, data.monitored_item.Value)
            if item is not None:
                self._readings.append(item)
        self._wakeup.set()

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        self.status = status.Status
        self._wakeup.set()

    async def take(self, wait_s: float) -> list[Reading]:
        if not self._wakeup.is_set():
            try:
                await asyncio.wait_for(self._wakeup.wait(), wait_s)
            except TimeoutError:
                return []
        self._wakeup.clear()
        if len(self._readings) > INBOX_LIMIT:
            raise DriverError(f"more than {INBOX_LIMIT} notifications waiting; the agent fell behind")
        taken, self._readings = self._readings, []
        return taken


class Link:
    """Streams batches from one connected client until something is wrong, then raises DriverError."""

    def __init__(self, client: Client, options: OpcUaOptions, nodes: Sequence[BoundNode]) -> None:
        self.client = client
        self.options = options
        self.subscribed = [n for n in nodes if n.mode == "subscribe"]
        self.polled = [n for n in nodes if n.mode == "poll"]
        self.inbox: Inbox | None = None
        self.subscription: Subscription | None = None
        self.server_started: datetime | None = None
        self.last: dict[str, tuple[Any, datetime]] = {}
        self.alarm_keys = {n.key for n in nodes if n.spec.alarm_number}

    async def open(self) -> None:
        await self.check()
        if self.subscribed:
            await self._subscribe()

    async def _subscribe(self) -> None:
        keys: dict[ua.NodeId, list[str]] = {}
        for node in self.subscribed:
            keys.setdefault(node.node_id, []).append(node.key)
        self.inbox = Inbox(keys)
        try:
            self.subscription = await self.client.create_subscription(self._parameters(), self.inbox)
        except ua.UaStatusCodeError as err:
            if err.code not in NO_SUBSCRIPTIONS:
                raise
            logger.warning("server refuses subscriptions (%s); polling every %.1f s", err, self.options.poll_interval_s)
            self.polled += self.subscribed
            self.subscribed, self.inbox = [], None
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
        last = max(self.inbox.last_seen, self.subscription.last_publish_at or 0.0)
        keepalive_s = self.options.publishing_interval_ms * self.options.keepalive_count / 1000
        limit = 2 * keepalive_s + self.options.watchdog_interval_s + self.options.request_timeout_s
        silent = time.monotonic() - last
        if silent > limit:
            raise DriverError(f"no data and no keep-alive from the subscription for {silent:.1f} s; subscribing again")
