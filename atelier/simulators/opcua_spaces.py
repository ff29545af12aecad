"""Address spaces of the simulated OPC UA controls, and how canonical values become their raw values.

Two shapes: a SINUMERIK 840D sl (namespace ``SinumerikVarProvider``, string node
ids equal to the BTSS paths) and an OPC 40501 MachineTool instance under the
Machinery ``Machines`` folder (with a non-machine-tool machine next to it, which
discovery must skip by type), in the shapes the umati reference servers show:
with or without a channel, with a fixed job or a plan whose jobs come and go
(``opcua_jobs``). The raw codes are the ones in
``machine_profiles/sinumerik-840d.toml`` and ``umati-machine-tool.toml``; the
profile maps them back, so a test through the profile closes the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncua import Node, Server, ua

SINUMERIK_URI = "SinumerikVarProvider"
MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"
MACHINE_TOOL_URI = "http://opcfoundation.org/UA/MachineTool/"
DI_URI = "http://opcfoundation.org/UA/DI/"
SIM_URI = "urn:atelier:simulator"

# SINUMERIK progStatus: 1 interrupted, 2 stopped, 3 running, 4 waiting, 5 aborted (also after M30).
PROG_STATUS = {"ACTIVE": 3, "FEED_HOLD": 2, "INTERRUPTED": 1, "STOPPED": 5, "READY": 5, "PROGRAM_COMPLETED": 5}
OP_MODE = {"MANUAL": 0, "MANUAL_DATA_INPUT": 1, "AUTOMATIC": 2}
# OPC 40501 ProductionStateMachine numbers: 0 Initializing, 1 Running, 2 Ended, 3 Interrupted, 4 Aborted.
PROGRAM_STATE = {"ACTIVE": 1, "PROGRAM_COMPLETED": 2, "FEED_HOLD": 3, "INTERRUPTED": 3, "STOPPED": 4, "READY": 0}
STATE_NAMES = ("Initializing", "Running", "Ended", "Interrupted", "Aborted")
CHANNEL_STATE = {"ACTIVE": 0, "FEED_HOLD": 1, "INTERRUPTED": 1}  # else 2 Reset
CHANNEL_MODE = {"AUTOMATIC": 0, "MANUAL_DATA_INPUT": 1, "MANUAL": 2}
# MachineOperationMode: Manual 0, Automatic 1, Setup 2, AutoWithManualIntervention 3, Service 4, Other 5.
# It has no MDI: a control in MDI shows its machine in Setup here.
OPERATION_MODE = {"MANUAL": 0, "AUTOMATIC": 1, "MANUAL_DATA_INPUT": 2, "SEMI_AUTOMATIC": 3}

Raw = list[tuple[str, Any, ua.VariantType]]  # (point, raw value, type)
Translate = Callable[[str, Any], Raw]


@dataclass(frozen=True, slots=True)
class Point:
    path: tuple[str, ...]  # browse names from the shape's root object
    initial: Any
    kind: ua.VariantType


SINUMERIK_POINTS: dict[str, Point] = {
    "/Channel/State/progStatus": Point(("Channel", "State", "progStatus"), 5, ua.VariantType.Int32),
    "/Channel/State/chanStatus": Point(("Channel", "State", "chanStatus"), 0, ua.VariantType.Int32),
    "/Channel/State/actParts": Point(("Channel", "State", "actParts"), 0, ua.VariantType.Int32),
    "/Channel/State/reqParts": Point(("Channel", "State", "reqParts"), 0, ua.VariantType.Int32),
    "/Channel/State/actTNumber": Point(("Channel", "State", "actTNumber"), 0, ua.VariantType.Int32),
    "/Channel/State/actFeedRateIpo": Point(("Channel", "State", "actFeedRateIpo"), 0.0, ua.VariantType.Double),
    "/Channel/State/feedRateIpoOvr": Point(("Channel", "State", "feedRateIpoOvr"), 100.0, ua.VariantType.Double),
    "/Channel/ProgramInfo/progName": Point(("Channel", "ProgramInfo", "progName"), "", ua.VariantType.String),
    "/Channel/Spindle/actSpeed": Point(("Channel", "Spindle", "actSpeed"), 0.0, ua.VariantType.Double),
    "/Channel/Spindle/speedOvr": Point(("Channel", "Spindle", "speedOvr"), 100.0, ua.VariantType.Double),
    "/Bag/State/opMode": Point(("Bag", "State", "opMode"), 2, ua.VariantType.Int32),
    "/Nck/State/numAlarms": Point(("Nck", "State", "numAlarms"), 0, ua.VariantType.Int32),
    "/Nck/TopPrioAlarm/alarmNo": Point(("Nck", "TopPrioAlarm", "alarmNo"), 0, ua.VariantType.Int32),
}

MACHINE_TOOL_POINTS: dict[str, Point] = {
    "OperationMode": Point(("Monitoring", "MachineTool", "OperationMode"), 1, ua.VariantType.Int32),
    "MachineFeedOverride": Point(("Monitoring", "MachineTool", "FeedOverride"), 100.0, ua.VariantType.Double),
    "ChannelState": Point(("Monitoring", "Channel1", "ChannelState"), 2, ua.VariantType.Int32),
    "ChannelMode": Point(("Monitoring", "Channel1", "ChannelMode"), 0, ua.VariantType.Int32),
    "FeedOverride": Point(("Monitoring", "Channel1", "FeedOverride"), 100.0, ua.VariantType.Double),
    "IsRotating": Point(("Monitoring", "Spindle", "IsRotating"), False, ua.VariantType.Boolean),
    "SpindleOverride": Point(("Monitoring", "Spindle", "Override"), 100.0, ua.VariantType.Double),
    "ProgramName": Point(("Production", "ActiveProgram", "Name"), "", ua.VariantType.String),
    "ProgramState": Point(
        ("Production", "ActiveProgram", "State", "CurrentState"), "Initializing", ua.VariantType.String
    ),
    "ProgramStateNumber": Point(
        ("Production", "ActiveProgram", "State", "CurrentState", "Number"), 0, ua.VariantType.UInt32
    ),
    "RunsCompleted": Point(("Production", "ProductionPlan", "Job1", "RunsCompleted"), 0, ua.VariantType.UInt32),
    "Manufacturer": Point(("Identification", "Manufacturer"), "Atelier", ua.VariantType.String),
    "SerialNumber": Point(("Identification", "SerialNumber"), "SIM-0001", ua.VariantType.String),
}


def sinumerik_raw(key: str, value: Any) -> Raw:
    """Raw SINUMERIK points for one canonical value (empty when the control has no such variable)."""
    points = SINUMERIK_POINTS
    if key == "execution":
        return [("/Channel/State/progStatus", PROG_STATUS.get(value, 5), points["/Channel/State/progStatus"].kind)]
    if key == "mode":
        return [("/Bag/State/opMode", OP_MODE.get(value, 0), ua.VariantType.Int32)]
    if key == "alarms":
        codes = [int(a["code"]) for a in value if str(a.get("code", "")).isdigit()]
        top = codes[0] if codes else 0
        return [
            ("/Nck/State/numAlarms", len(codes), ua.VariantType.Int32),
            ("/Nck/TopPrioAlarm/alarmNo", top, ua.VariantType.Int32),
        ]
    simple: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "program": ("/Channel/ProgramInfo/progName", str),
        "part_count": ("/Channel/State/actParts", int),
        "tool": ("/Channel/State/actTNumber", lambda t: int(str(t).lstrip("T") or 0)),
        "spindle_speed": ("/Channel/Spindle/actSpeed", float),
        "spindle_override": ("/Channel/Spindle/speedOvr", float),
        "feed_rate": ("/Channel/State/actFeedRateIpo", float),
        "feed_override": ("/Channel/State/feedRateIpoOvr", float),
    }
    if key not in simple or value is None:
        return []
    point, convert = simple[key]
    return [(point, convert(value), points[point].kind)]


def machine_tool_raw(key: str, value: Any) -> Raw:
    """Raw OPC 40501 points for one canonical value."""
    if key == "execution":
        number = PROGRAM_STATE.get(value, 0)
        return [
            ("ChannelState", CHANNEL_STATE.get(value, 2), ua.VariantType.Int32),
            ("ProgramState", STATE_NAMES[number], ua.VariantType.String),
            ("ProgramStateNumber", number, ua.VariantType.UInt32),
        ]
    if key == "mode":
        return [
            ("ChannelMode", CHANNEL_MODE.get(value, 7), ua.VariantType.Int32),
            ("OperationMode", OPERATION_MODE.get(value, 5), ua.VariantType.Int32),
        ]
    simple: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "program": ("ProgramName", str),
        "part_count": ("RunsCompleted", int),
        "feed_override": ("FeedOverride", float),
        "spindle_override": ("SpindleOverride", float),
        "spindle_speed": ("IsRotating", lambda speed: float(speed) > 0),
    }
    if key not in simple or value is None:
        return []
    point, convert = simple[key]
    return [(point, convert(value), MACHINE_TOOL_POINTS[point].kind)]


async def build_sinumerik(server: Server) -> dict[str, Node]:
    """The SINUMERIK-shaped address space; returns the variables by BTSS path."""
    await server.register_namespace(SIM_URI)  # so that SinumerikVarProvider is not at its usual index 2
    ns = await server.register_namespace(SINUMERIK_URI)
    root = await server.nodes.objects.add_folder(ua.NodeId("Sinumerik", ns), ua.QualifiedName("Sinumerik", ns))
    folders: dict[tuple[str, ...], Node] = {(): root}
    variables: dict[str, Node] = {}
    for path, point in SINUMERIK_POINTS.items():
        parent = await _folders(folders, point.path[:-1], lambda p: ua.NodeId("/" + "/".join(p), ns), ns)
        variables[path] = await parent.add_variable(
            ua.NodeId(path, ns), ua.QualifiedName(point.path[-1], ns), ua.Variant(point.initial, point.kind)
        )
    return variables


async def _folders(
    known: dict[tuple[str, ...], Node], path: tuple[str, ...], node_id: Callable[[tuple[str, ...]], ua.NodeId], ns: int
) -> Node:
    for depth in range(1, len(path) + 1):
        part = path[:depth]
        if part not in known:
            known[part] = await known[part[:-1]].add_object(node_id(part), ua.QualifiedName(part[-1], ns))
    return known[path]


@dataclass(frozen=True, slots=True)
class MachineToolSpace:
    variables: dict[str, Node]  # by point; the points the shape lacks are absent
    messages: Node  # Notification/Messages, the alarms' event source
    plan: Node  # Production/ProductionPlan
    own_ns: int  # the machine's own namespace (node ids of its instance nodes)
    tool_ns: int  # the MachineTool namespace (browse names)


async def build_machine_tool(
    server: Server, name: str = "SimMill", *, channel: bool = True, operation_mode: bool = True, fixed_job: bool = True
) -> MachineToolSpace:
    """A Machines folder with one MachineTool instance (and one machine of another type to skip).

    ``channel=False`` is a machine tool without Monitoring/Channel (mode from its
    OperationMode only; with ``operation_mode=False`` too, no mode at all);
    ``fixed_job=False`` leaves the ProductionPlan empty for a plan whose jobs come and go.
    """
    machinery = await server.register_namespace(MACHINERY_URI)
    tool_ns = await server.register_namespace(MACHINE_TOOL_URI)
    di = await server.register_namespace(DI_URI)
    own = await server.register_namespace(f"http://example.com/{name}/")
    base = server.get_node(ua.NodeId(ua.ObjectIds.BaseObjectType))
    tool_type = await base.add_object_type(ua.NodeId(13, tool_ns), ua.QualifiedName("MachineToolType", tool_ns))
    other_type = await base.add_object_type(ua.NodeId(5000, own), ua.QualifiedName("WoodworkingType", own))
    machines = await server.nodes.objects.add_folder(
        ua.NodeId(1001, machinery), ua.QualifiedName("Machines", machinery)
    )
    await machines.add_object(ua.NodeId("Saw", own), ua.QualifiedName("Saw", own), objecttype=other_type.nodeid)
    machine = await machines.add_object(ua.NodeId(name, own), ua.QualifiedName(name, own), objecttype=tool_type.nodeid)
    names_ns = {"Identification": di, "Monitoring": tool_ns, "Production": tool_ns, "Notification": tool_ns}
    folders: dict[tuple[str, ...], Node] = {(): machine}

    def node_id(path: tuple[str, ...]) -> ua.NodeId:
        return ua.NodeId(".".join(path), own)

    messages = await _folders(folders, ("Notification", "Messages"), node_id, tool_ns)
    plan = await _folders(folders, ("Production", "ProductionPlan"), node_id, tool_ns)
    variables: dict[str, Node] = {}
    for key, point in MACHINE_TOOL_POINTS.items():
        lacking = (
            (not channel and "Channel1" in point.path)
            or (not operation_mode and key == "OperationMode")
            or (not fixed_job and "Job1" in point.path)
        )
        if lacking:
            continue
        parent = await _folders(folders, point.path[:-1], node_id, tool_ns)
        bname = ua.QualifiedName(point.path[-1], names_ns.get(point.path[-1], tool_ns))
        variables[key] = folders[point.path] = await parent.add_variable(
            node_id(point.path), bname, ua.Variant(point.initial, point.kind)
        )
    return MachineToolSpace(variables, messages, plan, own, tool_ns)
