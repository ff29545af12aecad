"""One live OPC UA session: data-change and event subscriptions, polled nodes, re-bound paths and the watchdog.

The well-known failure of OPC UA clients is a subscription that is silently
dead after a server restart: the socket may come back, the session may be
recreated, but nobody re-creates the monitored items. Here nothing is repaired
in place. The watchdog reads the server's state and start time at an interval,
watches the subscription's keep-alives and status changes, and raises
``DriverError`` on anything wrong; ``pipeline.run_machine`` marks the machine
UNAVAILABLE and a fresh ``readings()`` call builds a new session and
subscription from scratch, alarm events and ConditionRefresh included.

Within a session, a path with a glob (``Production/ProductionPlan/*/RunsCompleted``)
follows what it matches: when its node disappears, when the server sends a model
change event, and every ``rebrowse_interval_s`` (servers that send none), the path
is resolved again and the key moves to the new node, logged once per change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeEvent, OpcEvent, OverflowPolicy, StatusChangeEvent, Subscription

from edge_agent.drivers import Reading
from edge_agent.drivers.opcua.alarms import ActiveAlarms, AlarmSource
from edge_agent.drivers.opcua.nodes import MISSING, BoundNode, NodeResolutionError, read, reading
from edge_agent.drivers.opcua.options import NodeSpec, OpcUaOptions
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
# What a server answers when it has no ConditionRefresh at all (as opposed to refusing this call).
NO_REFRESH = frozenset(
    {
        ua.StatusCodes.BadMethodInvalid,
        ua.StatusCodes.BadNodeIdUnknown,
        ua.StatusCodes.BadNotImplemented,
        ua.StatusCodes.BadNotSupported,
        ua.StatusCodes.BadServiceUnsupported,
    }
)
# A data change with one of these says the node is gone (deleted, or its id no longer valid).
GONE = MISSING | {ua.StatusCodes.BadObjectDeleted}
MODEL_CHANGES = (ua.NodeId(ua.ObjectIds.BaseModelChangeEventType), ua.NodeId(ua.ObjectIds.GeneralModelChangeEventType))
INBOX_LIMIT = 100_000
EVENT_QUEUE = 1000  # alarm events the server may hold for us between two publish responses
WATCHED = (ua.ObjectIds.Server_ServerStatus_State, ua.ObjectIds.Server_ServerStatus_StartTime)


def alarm_list(item: Reading) -> Reading:
    """An alarm number as the list of active alarm codes: 0 (or nothing) means no alarm."""
    value = item.value
    codes = [] if value in (None, 0, "", "0") else [str(value)]
    return Reading(item.key, codes, item.ts)


class Inbox:
    """Collects what the subscriptions deliver until the driver takes it as one batch.

    One task per subscription (``pump``) moves asyncua's notifications in from its
    queue. asyncua's handler interface would start a task per notification instead,
    which at thousands of notifications a second was the largest share of the
    agent's own CPU. asyncua queues a publish response's notifications back to back
    and the pump takes them all before the driver resumes, so what is taken
    together arrived together. A data change saying the node is gone marks its keys
    ``lost``; a model change event sets ``model_changed``: the link then resolves
    its paths again.
    """

    def __init__(self, keys: dict[ua.NodeId, list[str]], alarms: ActiveAlarms | None) -> None:
        self.keys = keys  # the link changes it when a key is bound to another node
        self._alarms = alarms
        self._readings: list[Reading] = []
        self._wakeup = asyncio.Event()
        self.status: ua.StatusCode | None = None
        self.failure: Exception | None = None
        self.lost: set[str] = set()
        self.model_changed = False
        self.model_handle: int | None = None  # the monitored item of the Server object's model change events

    async def pump(self, subscription: Subscription) -> None:
        try:
            async for event in subscription:
                if isinstance(event, DataChangeEvent):
                    self._data(event.node.nodeid, event.data.monitored_item.Value)
                elif isinstance(event, OpcEvent):
                    self._event(event)
                elif isinstance(event, StatusChangeEvent):
                    self.status = event.notification.Status
                self._wakeup.set()
        except Exception as err:  # a failure here must end the session, not silence it
            self.failure = err
            self._wakeup.set()

    def _data(self, node_id: ua.NodeId, value: ua.DataValue) -> None:
        keys = self.keys.get(node_id, ())
        if value.StatusCode is not None and value.StatusCode.value in GONE:
            self.lost.update(keys)
            return
        for key in keys:
            item = reading(key, value)
            if item is not None:
                self._readings.append(item)

    def _event(self, event: OpcEvent) -> None:
        fields = event.event.event_fields or []
        if self.model_handle is not None and getattr(event.event, "server_handle", None) == self.model_handle:
            if fields and fields[0].Value in MODEL_CHANGES:
                self.model_changed = True
        elif self._alarms is not None and fields:
            self._alarms.take(fields)

    def add(self, item: Reading) -> None:
        self._readings.append(item)
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


Resolver = Callable[[NodeSpec, ua.NodeId | None], Awaitable[ua.NodeId]]


class Link:
    """Streams batches from one connected client until something is wrong, then raises DriverError.

    Data changes and events have a subscription each: open62541 refuses
    ConditionRefresh (BadFilterNotAllowed) on a subscription that also holds data
    change items, because it walks every item of the subscription.
    """

    def __init__(
        self,
        client: Client,
        options: OpcUaOptions,
        nodes: Sequence[BoundNode],
        alarm_source: AlarmSource | None = None,
        alarms: ActiveAlarms | None = None,
        *,
        resolver: Resolver | None = None,
        unbound: dict[str, NodeSpec] | None = None,
        describe: Callable[[str], str] = str,
    ) -> None:
        self.client = client
        self.options = options
        self.subscribed = [n for n in nodes if n.mode == "subscribe"]
        self.polled = [n for n in nodes if n.mode == "poll"]
        self.alarm_source = alarm_source
        self.alarms = alarms
        self.inbox = Inbox({}, alarms if alarm_source is not None else None)
        self.subscription: Subscription | None = None  # data changes
        self.events: Subscription | None = None  # alarm and model change events
        self.server_started: datetime | None = None
        self.last: dict[str, tuple[Any, datetime]] = {}
        self.alarm_keys = {n.key for n in nodes if n.spec.alarm_number}
        self._resolver = resolver
        self._unbound = dict(unbound or {})  # path keys that match nothing now; tried again at each re-browse
        self._describe = describe  # a key as the profile names it, for logs
        self._handles: dict[ua.NodeId, int] = {}
        self._pumps: list[asyncio.Task[None]] = []
        self._opened_at = time.monotonic()

    @property
    def _patterns(self) -> bool:
        """Whether some key may move: a glob path, or a path that matches nothing now."""
        nodes = [*self.subscribed, *self.polled]
        return self._resolver is not None and (any(n.spec.is_pattern for n in nodes) or bool(self._unbound))

    async def open(self) -> None:
        await self.check()
        if self.subscribed:
            await self._subscribe()

    async def close(self) -> None:
        for pump in self._pumps:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _create(self) -> Subscription | None:
        """A subscription in iterator mode (no handler), bounded; None when the server refuses subscriptions."""
        try:
            subscription = await self.client.create_subscription(
                self._parameters(), None, queue_maxsize=INBOX_LIMIT, overflow=OverflowPolicy.DISCONNECT
            )
        except ua.UaStatusCodeError as err:
            if err.code not in NO_SUBSCRIPTIONS:
                raise
            logger.warning("server refuses subscriptions (%s)", err)
            return None
        self._pumps.append(asyncio.create_task(self.inbox.pump(subscription), name="opcua-notifications"))
        self._opened_at = time.monotonic()
        return subscription

    async def _subscribe(self) -> None:
        self.subscription = await self._create()
        if self.subscription is None:
            logger.warning("polling every %.1f s instead", self.options.poll_interval_s)
            self.polled += self.subscribed
            self.subscribed = []
            return
        for node in self.subscribed:
            self.inbox.keys.setdefault(node.node_id, []).append(node.key)
        failed = await self._monitor(list(self.inbox.keys))
        for node_id, status in failed.items():
            names = ", ".join(self.inbox.keys.pop(node_id))
            logger.warning("cannot monitor %s (%s): %s; polling it instead", names, node_id, status.name)
            self.polled += [n for n in self.subscribed if n.node_id == node_id]
            self.subscribed = [n for n in self.subscribed if n.node_id != node_id]

    async def _monitor(self, node_ids: Sequence[ua.NodeId]) -> dict[ua.NodeId, ua.StatusCode]:
        """Add data change items; return the nodes the server refused."""
        assert self.subscription is not None
        nodes = [self.client.get_node(node_id) for node_id in node_ids]
        results = await self.subscription.subscribe_data_change(
            nodes, sampling_interval=self.options.sampling_interval_ms
        )
        failed: dict[ua.NodeId, ua.StatusCode] = {}
        for node_id, result in zip(node_ids, results, strict=True):
            if isinstance(result, ua.StatusCode):
                failed[node_id] = result
            else:
                self._handles[node_id] = result
        return failed

    async def watch_events(self) -> str | None:
        """Subscribe to alarm and model change events, ask for the active conditions; say why alarms go unread."""
        source = self.alarm_source if self.alarms is not None else None
        if source is None and not self._patterns:
            return None
        self.events = await self._create()
        if self.events is None:
            self.alarm_source = None
            return None if source is None else "alarm events need a subscription and the server refuses them"
        if self._patterns:
            await self._watch_model_changes(self.events)
        if source is None or self.alarms is None:
            return None
        self.alarms.new_session()
        try:
            await self.events.subscribe_events(source.node_id, evfilter=source.filter, queuesize=EVENT_QUEUE)
        except ua.UaStatusCodeError as err:
            return f"the server refuses events from node {source.node_id.to_string()}: {err}"
        await self._condition_refresh(self.events)
        return None

    async def _watch_model_changes(self, subscription: Subscription) -> None:
        """Model change events of the Server object, where the server sends them (else the periodic re-browse)."""
        try:
            self.inbox.model_handle = await subscription.subscribe_events(
                ua.ObjectIds.Server, evfilter=model_change_filter(), queuesize=EVENT_QUEUE
            )
        except ua.UaStatusCodeError as err:
            logger.info("no model change events (%s); paths are browsed again every %g s", err, self._rebrowse_s)

    @property
    def _rebrowse_s(self) -> float:
        return self.options.rebrowse_interval_s

    async def _condition_refresh(self, subscription: Subscription) -> None:
        try:
            await asyncio.wait_for(
                self.client.get_node(ua.ObjectIds.ConditionType).call_method(
                    ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh),
                    ua.Variant(subscription.subscription_id, ua.VariantType.UInt32),
                ),
                self.options.request_timeout_s,
            )
        except ua.UaStatusCodeError as err:
            if err.code in NO_REFRESH:
                logger.info(
                    "server has no ConditionRefresh (%s); the alarms known before stay until the control reports them",
                    type(err).__name__,
                )
            else:
                logger.warning(
                    "server refused ConditionRefresh on the alarm subscription (%s); "
                    "the alarms known before stay until the control reports them",
                    type(err).__name__,
                )

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
        next_browse = loop.time() + self._rebrowse_s
        follows = self._patterns  # what can change it is rebind() below
        while True:
            due = min(next_check, next_poll) if self.polled else next_check
            if follows:
                due = min(due, next_browse)
            batch = self.fresh(await self.inbox.take(max(due - loop.time(), 0.0)))
            alarms = self.alarms.pending() if self.alarms is not None and self.alarm_source is not None else None
            if alarms is not None:
                batch.append(alarms)
            self._check_status()
            if batch:
                yield batch
            now = loop.time()
            if self.inbox.lost or self.inbox.model_changed or (follows and now >= next_browse):
                next_browse = now + self._rebrowse_s
                await self.rebind()
                follows = self._patterns
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
        items = []
        for node, value in zip(self.polled, values, strict=True):
            if value.StatusCode is not None and value.StatusCode.value in GONE:
                self.inbox.lost.add(node.key)
            elif (item := reading(node.key, value)) is not None:
                items.append(item)
        return self.fresh(items)

    async def rebind(self) -> None:
        """Resolve the paths again: lost keys, every glob after a model change or at the re-browse interval.

        A key whose node changed is moved to the new node (logged once per change); a
        lost key that matches nothing now stops reading until a later re-browse finds it.
        """
        lost, self.inbox.lost = self.inbox.lost, set()
        self.inbox.model_changed = False
        if self._resolver is None:
            return
        nodes = {n.key: n for n in [*self.subscribed, *self.polled]}
        for key, spec in list(self._unbound.items()):
            try:
                node_id = await self._resolver(spec, None)
            except (NodeResolutionError, ValueError):
                continue
            del self._unbound[key]
            logger.info("%s now reads node %s", self._describe(key), node_id.to_string())
            await self._attach(BoundNode(key, node_id, spec, spec.mode or self.options.mode))
        for key, node in nodes.items():
            if key not in lost and not node.spec.is_pattern:
                continue
            if node.spec.path is None:  # an id cannot be looked up again
                logger.error("%s: node %s is gone from the server", self._describe(key), node.node_id.to_string())
                await self._detach(node)
                continue
            try:
                node_id = await self._resolver(node.spec, node.node_id if key not in lost else None)
            except (NodeResolutionError, ValueError) as err:
                if key in lost:
                    logger.warning("%s: node %s is gone and %s", self._describe(key), node.node_id.to_string(), err)
                    await self._detach(node)
                    self._unbound[key] = node.spec
                continue
            if node_id != node.node_id or key in lost:
                logger.info(
                    "%s now reads node %s (was %s)", self._describe(key), node_id.to_string(), node.node_id.to_string()
                )
                await self._detach(node)
                await self._attach(dataclasses.replace(node, node_id=node_id))

    async def _detach(self, node: BoundNode) -> None:
        if node in self.polled:
            self.polled.remove(node)
            return
        if node in self.subscribed:
            self.subscribed.remove(node)
        keys = self.inbox.keys.get(node.node_id, [])
        if node.key in keys:
            keys.remove(node.key)
        if not keys:
            self.inbox.keys.pop(node.node_id, None)
            handle = self._handles.pop(node.node_id, None)
            if handle is not None and self.subscription is not None:
                with contextlib.suppress(ua.UaStatusCodeError):
                    await self.subscription.unsubscribe(handle)
        self.last.pop(node.key, None)

    async def _attach(self, node: BoundNode) -> None:
        """Read a newly bound node: a data change item (its first notification is the current value), else a poll."""
        self.last.pop(node.key, None)
        if node.mode == "poll" or self.subscription is None:
            self.polled.append(dataclasses.replace(node, mode="poll"))
            return
        self.subscribed.append(node)
        known = node.node_id in self.inbox.keys
        self.inbox.keys.setdefault(node.node_id, []).append(node.key)
        if known:  # another key already reads this node: its value now goes to both
            values = await asyncio.wait_for(read(self.client, [node]), self.options.request_timeout_s)
            item = reading(node.key, values[0])
            if item is not None:
                self.inbox.add(item)
            return
        failed = await self._monitor([node.node_id])
        if failed:
            self.inbox.keys.pop(node.node_id, None)
            self.subscribed.remove(node)
            self.polled.append(dataclasses.replace(node, mode="poll"))

    def _check_status(self) -> None:
        status = self.inbox.status
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
        keepalive_s = self.options.publishing_interval_ms * self.options.keepalive_count / 1000
        limit = 2 * keepalive_s + self.options.watchdog_interval_s + self.options.request_timeout_s
        for subscription in (self.subscription, self.events):
            if subscription is None:
                continue
            last = max(self._opened_at, subscription.last_publish_at or 0.0)
            silent = time.monotonic() - last
            if silent > limit:
                raise DriverError(
                    f"no data and no keep-alive from the subscription for {silent:.1f} s; subscribing again"
                )


def model_change_filter() -> ua.EventFilter:
    """Only the event type; no where clause (some servers mishandle them): the inbox keeps model changes."""
    operand = ua.SimpleAttributeOperand()
    operand.TypeDefinitionId = ua.NodeId(ua.ObjectIds.BaseEventType)
    operand.BrowsePath = [ua.QualifiedName("EventType", 0)]
    operand.AttributeId = ua.AttributeIds.Value
    result = ua.EventFilter()
    result.SelectClauses = [operand]
    return result
