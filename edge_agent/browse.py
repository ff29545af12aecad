"""``atelier edge browse``: print a control's OPC UA address space and write a profile skeleton.

A workshop master onboards a new control by browsing it: every node with its
node id (namespace by URI, as profiles write it), browse name, data type and
current value, as an indented tree. ``--write-profile`` turns the variables
seen into a profile file with ``options.nodes`` and guessed ``signals`` to check.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Client, ua

from edge_agent.drivers.opcua.driver import LINK_ERRORS, describe
from edge_agent.drivers.opcua.nodes import NodeResolutionError, node_id_of, plain
from edge_agent.drivers.opcua.options import NODE_ID_PATTERN, NodeSpec
from edge_agent.profile_skeleton import Variable, skeleton

TIMEOUT_S = 5.0
MAX_VALUE_CHARS = 60


@dataclass
class Browser:
    client: Client
    namespaces: list[str]
    depth: int
    variables: list[Variable]
    seen: set[str]

    def node_text(self, node_id: ua.NodeId) -> str:
        """The node id with its namespace as a URI (``nsu=...``), as profiles write it."""
        text: str = node_id.to_string()
        if node_id.NamespaceIndex == 0 or node_id.NamespaceIndex >= len(self.namespaces):
            return text
        return f"nsu={self.namespaces[node_id.NamespaceIndex]};" + text.split(";", 1)[1]

    async def walk(self, node_id: ua.NodeId, level: int, path: tuple[str, ...]) -> None:
        if level > self.depth:
            return
        children = await self.client.get_node(node_id).get_children_descriptions()
        variables = [c for c in children if c.NodeClass == ua.NodeClass.Variable]
        details = await self._details([ua.NodeId(c.NodeId.Identifier, c.NodeId.NamespaceIndex) for c in variables])
        for child in children:
            child_id = ua.NodeId(child.NodeId.Identifier, child.NodeId.NamespaceIndex, child.NodeId.NodeIdType)
            text = self.node_text(child_id)
            name = child.BrowseName.Name or "?"
            line = f"{'  ' * level}{name}  [{child.NodeClass.name}]  {text}"
            if child.NodeClass == ua.NodeClass.Variable:
                data_type, value = details.get(child_id, ("?", None))
                line += f"  {data_type} = {_short(value)}"
                self.variables.append(Variable((*path, name), text, data_type, value))
            print(line)
            if text in self.seen or child_id.NamespaceIndex == 0:
                continue  # standard objects (Server, Aliases...) are large and the same on every server
            self.seen.add(text)
            await self.walk(child_id, level + 1, (*path, name))

    async def _details(self, node_ids: list[ua.NodeId]) -> dict[ua.NodeId, tuple[str, Any]]:
        if not node_ids:
            return {}
        values = await self.client.uaclient.read_attributes(node_ids, ua.AttributeIds.Value)
        types = await self.client.uaclient.read_attributes(node_ids, ua.AttributeIds.DataType)
        out: dict[ua.NodeId, tuple[str, Any]] = {}
        for node_id, value, data_type in zip(node_ids, values, types, strict=True):
            good = value.StatusCode is None or value.StatusCode.is_good()
            raw = plain(value.Value.Value) if good and value.Value is not None else None
            out[node_id] = (_type_name(data_type.Value.Value if data_type.Value else None), raw)
        return out


def _type_name(node_id: Any) -> str:
    if isinstance(node_id, ua.NodeId) and node_id.NamespaceIndex == 0 and isinstance(node_id.Identifier, int):
        return str(ua.ObjectIdNames.get(node_id.Identifier, node_id.to_string()))
    return node_id.to_string() if isinstance(node_id, ua.NodeId) else "?"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


async def _start_node(client: Client, node: str | None, namespaces: list[str]) -> ua.NodeId:
    if node is None:
        return ua.NodeId(ua.ObjectIds.ObjectsFolder)
    if not NODE_ID_PATTERN.match(node):
        raise NodeResolutionError(f"{node!r} is not a node id such as 'i=85' or 'nsu=URI;s=/Channel'")
    return node_id_of(NodeSpec(id=node), namespaces)


async def browse(url: str, node: str | None, depth: int, write_profile: Path | None) -> int:
    client = Client(url, timeout=TIMEOUT_S)
    client.session_timeout = 60_000
    try:
        async with asyncio.timeout(TIMEOUT_S * 2):
            await client.connect()
    except (*LINK_ERRORS, TimeoutError) as err:
        print(f"error: cannot connect to {url}: {describe(err)}", file=sys.stderr)
        return 1
    try:
        variables = await _print_tree(client, node, depth)
    except NodeResolutionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (*LINK_ERRORS, TimeoutError) as err:
        print(f"error: {describe(err)}", file=sys.stderr)
        return 1
    finally:
        await _close(client)
    if write_profile is not None:
        try:
            await asyncio.to_thread(write_profile.write_text, skeleton(url, variables), encoding="utf-8")
        except OSError as err:
            print(f"error: cannot write {write_profile}: {err.strerror or err}", file=sys.stderr)
            return 1
        print(f"profile skeleton with {len(variables)} nodes written to {write_profile}")
    return 0


async def _print_tree(client: Client, node: str | None, depth: int) -> list[Variable]:
    namespaces = await client.get_namespace_array()
    start = await _start_node(client, node, namespaces)
    browser = Browser(client, namespaces, depth, [], set())
    name = (await client.get_node(start).read_browse_name()).Name
    print(f"{name}  {browser.node_text(start)}")
    await browser.walk(start, 1, ())
    return browser.variables


async def _close(client: Client) -> None:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await client.disconnect()
    except (*LINK_ERRORS, TimeoutError):
        pass


def browse_main(url: str, node: str | None, depth: int, write_profile: Path | None) -> int:
    """The CLI command: print the tree (from ``node``, default Objects) ``depth`` levels deep."""
    if not re.match(r"^opc\.tcp://[^/\s]+", url):
        print(f"error: {url!r} is not an OPC UA endpoint such as opc.tcp://192.168.1.20:4840", file=sys.stderr)
        return 2
    if depth < 1:
        print("error: --depth must be at least 1", file=sys.stderr)
        return 2
    return asyncio.run(browse(url, node, depth, write_profile))
