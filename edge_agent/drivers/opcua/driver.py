"""The ``opcua`` driver: asyncua data-change subscriptions (or polling) turned into batches of readings.

Each ``readings()`` call is one session from scratch: connect (with security and
credentials), resolve the profile's nodes by namespace URI or browse path, read
every node once (the first batch, stamped no earlier than the session's start:
``since``), subscribe, then yield what the server
notifies, with the control's source timestamps. With ``alarms_from_events`` the
same subscription watches an event notifier for alarm conditions, and the
active set (kept by the driver across sessions) is reported as an alarm list.
A node that does not exist is logged with the profile file, the key and the
node id, and the other signals keep flowing. Any failure ends the generator
with ``DriverError``; the machine's task (``pipeline.run_machine``) marks the
machine UNAVAILABLE and calls ``readings()`` again after a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua

from edge_agent.drivers import Batch, Reading
from edge_agent.drivers.opcua.alarms import ActiveAlarms, AlarmSource, event_filter
from edge_agent.drivers.opcua.link import Link
from edge_agent.drivers.opcua.nodes import (
    MISSING,
    BoundNode,
    NodeResolutionError,
    bind,
    namespace_index,
    read,
    reading,
    resolve,
)
from edge_agent.drivers.opcua.options import OpcUaOptions, parse
from edge_agent.drivers.opcua.security import apply as apply_security
from edge_agent.drivers.opcua.umati import find_machine_tool
from edge_agent.errors import DriverError
from edge_agent.profiles import Profile

logger = logging.getLogger(__name__)

# What asyncua and the network raise when a link fails; all become DriverError.
LINK_ERRORS = (ua.UaError, OSError, ConnectionError, TimeoutError, EOFError)


def _quiet_link_loss(record: logging.LogRecord) -> bool:
    """asyncua logs a traceback at ERROR for every lost connection; the driver already says it in one line."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, LINK_ERRORS):
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
    return True


logging.getLogger("asyncua.client.ua_session.UaSession").addFilter(_quiet_link_loss)


class OpcUaDriver:
    def __init__(self, *, machine_id: str, options: OpcUaOptions, source: str) -> None:
        self.machine_id = machine_id
        self.options = options
        self.source = source  # the profile file, named in errors about its nodes
        events = options.alarms_from_events
        self.alarms = ActiveAlarms(events) if events is not None else None  # outlives sessions

    async def readings(self) -> AsyncIterator[Batch]:
        client = self._client()
        link: Link | None = None
        try:
            await self._connect(client)
            root = await self._root(client)
            nodes, alarm_source = await self._bind(client, root), await self._alarm_source(client, root)
            link = Link(client, self.options, nodes, alarm_source, self.alarms)
            first = await self._first_read(client, link)
            await link.open()
            problem = await link.watch_alarms()
            if problem is not None:
                self._log_alarms_unread(problem)
            yield first + link.alarm_snapshot()
            async for batch in link.batches():
                yield batch
        except LINK_ERRORS as err:
            raise DriverError(f"{self.options.endpoint}: {describe(err)}") from err
        finally:
            if link is not None:
                await link.close()
            await close(client, self.options.request_timeout_s)

    def _client(self) -> Client:
        opts = self.options
        client = Client(opts.endpoint, timeout=opts.request_timeout_s, watchdog_intervall=opts.watchdog_interval_s)
        client.session_timeout = int(opts.session_timeout_s * 1000)
        client.name = client.description = f"Atelier edge agent ({self.machine_id})"
        client.application_uri = "urn:atelier:edge-agent"
        client.product_uri = "urn:atelier"
        # Recovery has one owner, pipeline.run_machine: asyncua must not re-create a stale
        # subscription in place behind the watchdog's back.
        client._stale_check_margin = float("inf")
        return client

    async def _connect(self, client: Client) -> None:
        try:
            async with asyncio.timeout(self.options.connect_timeout_s):
                await apply_security(client, self.options)
                await client.connect(auto_reconnect=False)
        except TimeoutError as err:
            limit = self.options.connect_timeout_s
            raise DriverError(f"{self.options.endpoint}: no answer within {limit:g} s") from err
        logger.info("%s: connected to %s", self.machine_id, self.options.endpoint)

    async def _root(self, client: Client) -> ua.NodeId:
        """Where browse paths start: the discovered MachineTool, else the Objects folder."""
        if self.options.machine_tool is not None:
            return await find_machine_tool(client, self.options.machine_tool.machine)
        return ua.NodeId(ua.ObjectIds.ObjectsFolder)

    async def _bind(self, client: Client, root: ua.NodeId) -> list[BoundNode]:
        nodes, failed = await bind(client, self.options.specs(), root=root, default_mode=self.options.mode)
        for key, reason in failed.items():
            self._log_missing(key, reason)
        return nodes

    async def _alarm_source(self, client: Client, root: ua.NodeId) -> AlarmSource | None:
        """The alarm event notifier on this server, or None (logged) when it cannot be used."""
        events = self.options.alarms_from_events
        if events is None:
            return None
        namespaces = await client.get_namespace_array()
        try:
            node_id = await resolve(client, events.spec(), namespaces, root)
            ns = namespace_index(events.code_field_ns_uri, namespaces)
            notifier = await client.get_node(node_id).read_attribute(ua.AttributeIds.EventNotifier)
        except (NodeResolutionError, ValueError) as err:
            self._log_alarms_unread(str(err))
            return None
        except ua.UaStatusCodeError as err:
            self._log_alarms_unread(f"node {node_id.to_string()}: {type(err).__name__}")
            return None
        value = notifier.Value.Value if notifier.Value is not None else None
        if not isinstance(value, int) or not value & 1 << ua.EventNotifier.SubscribeToEvents:  # a bit index
            self._log_alarms_unread(f"node {node_id.to_string()} is not an event notifier (EventNotifier attribute)")
            return None
        return AlarmSource(node_id, event_filter(ua.QualifiedName(events.code_field, ns)))

    def _log_alarms_unread(self, reason: str) -> None:
        events = self.options.alarms_from_events
        node = events.spec().describe() if events is not None else "?"
        logger.error(
            "%s: options.alarms_from_events.node (%s): %s; machine %s reads no alarm events",
            self.source,
            node,
            reason,
            self.machine_id,
        )

    async def _first_read(self, client: Client, link: Link) -> list[Reading]:
        """Read every node once; drop (with an error log) the nodes the server does not know."""
        nodes = link.subscribed + link.polled
        linked = datetime.now(UTC)
        values = await asyncio.wait_for(read(client, nodes), self.options.request_timeout_s) if nodes else []
        present: list[BoundNode] = []
        for node, value in zip(nodes, values, strict=True):
            if value.StatusCode is not None and value.StatusCode.value in MISSING:
                self._log_missing(node.key, f"node {node.node_id.to_string()} does not exist on the server")
            else:
                present.append(node)
        if not present:
            raise DriverError(f"{self.options.endpoint}: none of the {len(self.options.nodes)} configured nodes exists")
        link.subscribed = [n for n in link.subscribed if n in present]
        link.polled = [n for n in link.polled if n in present]
        items = (reading(node.key, value) for node, value in zip(nodes, values, strict=True) if node in present)
        return [since(item, linked) for item in link.fresh([item for item in items if item is not None])]

    def _log_missing(self, key: str, reason: str) -> None:
        spec = self.options.specs()[key]
        logger.error(
            "%s: options.nodes.%s (%s): %s; machine %s keeps reading its other signals",
            self.source,
            key,
            spec.describe(),
            reason,
            self.machine_id,
        )


def since(item: Reading, linked: datetime) -> Reading:
    """A first-read value stamped no earlier than the session's start.

    A quiet control's values carry the source time of their last change, often before the
    outage (or before the agent started): stamped so, the machine's state on connection would
    land before the UNAVAILABLE that marked the outage and the timeline would show it offline
    until something changed. What the agent knows is the state from when it connected.
    """
    return item if item.ts >= linked else Reading(item.key, item.value, linked)


async def close(client: Client, limit_s: float) -> None:
    """Close quietly: delete the session (and its subscription) if the link is up, drop the socket anyway."""
    with contextlib.suppress(*LINK_ERRORS):
        async with asyncio.timeout(limit_s):
            await client.close_session()
    with contextlib.suppress(*LINK_ERRORS):
        async with asyncio.timeout(limit_s):
            await client.close_secure_channel()
    with contextlib.suppress(*LINK_ERRORS, AttributeError):
        client.disconnect_socket()


def describe(err: BaseException) -> str:
    """A one-line reason for a link failure, without a traceback."""
    if isinstance(err, ua.UaStatusCodeError):
        return f"{type(err).__name__}: {err}"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused (is the control on and its OPC UA server enabled?)"
    if isinstance(err, TimeoutError):
        return "timed out"
    return str(err) or type(err).__name__


def build(*, machine_id: str, options: dict[str, Any], profile: Profile | None) -> OpcUaDriver:
    source = str(profile.path) if profile is not None and profile.path is not None else f"machine {machine_id}"
    return OpcUaDriver(machine_id=machine_id, options=parse(options, file=source), source=source)


__all__: Sequence[str] = ("OpcUaDriver", "build")
