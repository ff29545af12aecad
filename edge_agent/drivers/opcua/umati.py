"""OPC 40501 (OPC UA for Machine Tools, umati) discovery.

The Machinery ``Machines`` folder has a fixed node id in the Machinery
namespace, and clients are told to open it directly rather than browse to it.
Every machine under it is linked by Organizes; a machine tool is one whose type
definition is ``MachineToolType`` or a subtype of it. Other machine kinds in
the same folder (woodworking, measuring, additive) are skipped by type, never
by name.
"""

from __future__ import annotations

import fnmatch
import logging

from asyncua import Client, ua

from edge_agent.drivers.opcua.nodes import NodeResolutionError, node_id_of
from edge_agent.drivers.opcua.options import NodeSpec
from edge_agent.errors import DriverError

logger = logging.getLogger(__name__)

MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"
MACHINE_TOOL_URI = "http://opcfoundation.org/UA/MachineTool/"
MACHINES_FOLDER = NodeSpec(ns_uri=MACHINERY_URI, id=1001)
MACHINE_TOOL_TYPE = NodeSpec(ns_uri=MACHINE_TOOL_URI, id=13)
MAX_TYPE_DEPTH = 10


async def machine_tools(client: Client) -> list[ua.ReferenceDescription]:
    """Every MachineTool instance under the Machines folder, sorted by browse name."""
    namespaces = await client.get_namespace_array()
    try:
        folder = node_id_of(MACHINES_FOLDER, namespaces)
        tool_type = node_id_of(MACHINE_TOOL_TYPE, namespaces)
    except NodeResolutionError as err:
        raise DriverError(f"not an OPC 40501 (umati) server: {err}") from err
    children = await client.get_node(folder).get_children_descriptions(refs=ua.ObjectIds.Organizes)
    found = [
        child
        for child in children
        if child.NodeClass == ua.NodeClass.Object and await is_subtype(client, child.TypeDefinition, tool_type)
    ]
    return sorted(found, key=lambda child: child.BrowseName.Name or "")


async def is_subtype(client: Client, type_id: ua.NodeId, base: ua.NodeId) -> bool:
    """Whether ``type_id`` is ``base`` or derives from it (following HasSubtype upwards)."""
    current: ua.NodeId | None = ua.NodeId(type_id.Identifier, type_id.NamespaceIndex, type_id.NodeIdType)
    for _ in range(MAX_TYPE_DEPTH):
        if current is None or current.is_null():
            return False
        if current == base:
            return True
        parents = await client.get_node(current).get_references(
            refs=ua.ObjectIds.HasSubtype, direction=ua.BrowseDirection.Inverse
        )
        current = parents[0].NodeId if parents else None
    return False


async def find_machine_tool(client: Client, pattern: str) -> ua.NodeId:
    """The node id of the MachineTool whose browse name matches ``pattern`` (the first by name)."""
    tools = await machine_tools(client)
    matches = [tool for tool in tools if fnmatch.fnmatchcase(tool.BrowseName.Name or "", pattern)]
    if not matches:
        names = ", ".join(tool.BrowseName.Name or "?" for tool in tools) or "none"
        raise DriverError(f"no MachineTool named {pattern!r} under Machinery/Machines (machine tools found: {names})")
    if len(matches) > 1:
        logger.info(
            "%d machine tools match %r (%s); following %s",
            len(matches),
            pattern,
            ", ".join(m.BrowseName.Name or "?" for m in matches),
            matches[0].BrowseName.Name,
        )
    node_id: ua.NodeId = matches[0].NodeId
    return ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType)
