"""Turn the profile's node specs into node ids on one server, and OPC UA values into plain readings.

Namespace indexes differ between servers and even between firmware versions of
one control, so every namespace is looked up by URI in the server's
NamespaceArray at connect time. A node that cannot be resolved is reported per
key; the other keys keep working.
"""

from __future__ import annotations

import enum
import fnmatch
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from asyncua import Client, ua

from edge_agent.drivers import Reading
from edge_agent.drivers.opcua.options import NodeSpec, Prefer, identifier_text

logger = logging.getLogger(__name__)

# Status codes that mean "this node id is wrong", as opposed to "no value yet".
MISSING = frozenset(
    {
        ua.StatusCodes.BadNodeIdUnknown,
        ua.StatusCodes.BadNodeIdInvalid,
        ua.StatusCodes.BadAttributeIdInvalid,
    }
)


class NodeResolutionError(Exception):
    """One key's node could not be turned into a node id on this server."""


@dataclass(frozen=True, slots=True)
class BoundNode:
    key: str
    node_id: ua.NodeId
    spec: NodeSpec
    mode: Literal["subscribe", "poll"]


def node_id_of(spec: NodeSpec, namespaces: Sequence[str]) -> ua.NodeId:
    """The node id for an id spec, with a namespace URI looked up in ``namespaces``."""
    if spec.ns_uri is not None:
        parsed = ua.NodeId.from_string(identifier_text(spec.id))
        return ua.NodeId(parsed.Identifier, _index_of(spec.ns_uri, namespaces), parsed.NodeIdType)
    parsed = ua.NodeId.from_string(identifier_text(spec.id) if isinstance(spec.id, int) else str(spec.id))
    uri = getattr(parsed, "NamespaceUri", None)
    index = _index_of(uri, namespaces) if uri else parsed.NamespaceIndex
    if index >= len(namespaces):
        raise NodeResolutionError(f"namespace index {index} is not on the server (it has {len(namespaces)})")
    return ua.NodeId(parsed.Identifier, index, parsed.NodeIdType)


def namespace_index(uri: str | None, namespaces: Sequence[str]) -> int:
    """The server's index of a namespace URI (0, the OPC UA namespace, for None)."""
    return 0 if uri is None else _index_of(uri, namespaces)


def _index_of(uri: str, namespaces: Sequence[str]) -> int:
    try:
        return list(namespaces).index(uri)
    except ValueError:
        known = ", ".join(namespaces[1:]) or "none"
        raise NodeResolutionError(f"namespace URI {uri!r} is not on the server (it has: {known})") from None


async def resolve_path(
    client: Client, root: ua.NodeId, path: str, prefer: Prefer | None = None, keep: ua.NodeId | None = None
) -> ua.NodeId:
    """Follow browse names (globs allowed) from ``root``.

    A glob takes its first match by name. With ``prefer``, the path's first glob takes
    the match whose ``prefer.path`` reads ``prefer.value`` (the job that is running);
    when none does, the match that leads to ``keep`` (what the key reads now), else the
    first by name: a plan between two jobs does not make the key jump from job to job.
    """
    segments = [part for part in path.split("/") if part]
    current: ua.NodeId = root
    walked: list[str] = []
    for n, segment in enumerate(segments):
        matches = await _children(client, current, segment, walked)
        if prefer is not None and _is_glob(segment):
            return await _choose(
                client, matches=matches, rest=segments[n + 1 :], prefer=prefer, keep=keep, walked=[*walked, segment]
            )
        current = matches[0].NodeId
        walked.append(matches[0].BrowseName.Name or segment)
    return current


async def _children(
    client: Client, parent: ua.NodeId, segment: str, walked: Sequence[str]
) -> list[ua.ReferenceDescription]:
    children = await client.get_node(parent).get_children_descriptions()
    matches = sorted(
        (child for child in children if fnmatch.fnmatchcase(child.BrowseName.Name or "", segment)),
        key=lambda child: child.BrowseName.Name or "",
    )
    if not matches:
        where = "/".join(walked) or "the start node"
        names = ", ".join(sorted(c.BrowseName.Name or "" for c in children)) or "no children"
        raise NodeResolutionError(f"no child {segment!r} under {where} (found: {names})")
    return matches


async def _choose(
    client: Client,
    *,
    matches: Sequence[ua.ReferenceDescription],
    rest: Sequence[str],
    prefer: Prefer,
    keep: ua.NodeId | None,
    walked: Sequence[str],
) -> ua.NodeId:
    found: list[tuple[bool, ua.NodeId]] = []
    for match in matches:
        try:
            target = await resolve_path(client, match.NodeId, "/".join(rest)) if rest else match.NodeId
        except NodeResolutionError:
            continue  # a match without the rest of the path (a job being built or torn down)
        found.append((await _reads(client, match.NodeId, prefer), target))
    if not found:
        raise NodeResolutionError(f"no match of {'/'.join(walked)} has {'/'.join(rest)}")
    for preferred, target in found:
        if preferred:
            return target
    for _, target in found:
        if keep is not None and target == keep:
            return target
    return found[0][1]


async def _reads(client: Client, node: ua.NodeId, prefer: Prefer) -> bool:
    """Whether ``prefer.path`` below ``node`` reads ``prefer.value`` (False when it is missing or unreadable)."""
    try:
        target = await resolve_path(client, node, prefer.path)
        value = plain(await client.get_node(target).read_value())
    except (NodeResolutionError, ua.UaStatusCodeError):
        return False
    return bool(value == prefer.value or str(value) == str(prefer.value))


def _is_glob(segment: str) -> bool:
    return any(char in segment for char in "*?[")


async def resolve(
    client: Client, spec: NodeSpec, namespaces: Sequence[str], root: ua.NodeId, keep: ua.NodeId | None = None
) -> ua.NodeId:
    """One spec's node id: its browse path from ``root``, or its id; raises NodeResolutionError or ValueError."""
    if spec.path is not None:
        return await resolve_path(client, root, spec.path, spec.prefer, keep)
    return node_id_of(spec, namespaces)


async def bind(
    client: Client, specs: dict[str, NodeSpec], *, root: ua.NodeId, default_mode: Literal["subscribe", "poll"]
) -> tuple[list[BoundNode], dict[str, str]]:
    """Resolve every spec; return the bound nodes and, per failed key, the reason."""
    namespaces = await client.get_namespace_array()
    bound: list[BoundNode] = []
    failed: dict[str, str] = {}
    for key, spec in specs.items():
        try:
            node_id = await resolve(client, spec, namespaces, root)
        except (NodeResolutionError, ValueError) as err:
            failed[key] = str(err)
            continue
        bound.append(BoundNode(key, node_id, spec, spec.mode or default_mode))
    return bound, failed


async def read(client: Client, nodes: Sequence[BoundNode]) -> list[ua.DataValue]:
    """Read the values of ``nodes`` in one request, with source and server timestamps."""
    params = ua.ReadParameters()
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    for node in nodes:
        item = ua.ReadValueId()
        item.NodeId = node.node_id
        item.AttributeId = ua.AttributeIds.Value
        params.NodesToRead.append(item)
    results: list[ua.DataValue] = await client.uaclient.read(params)
    return results


def reading(key: str, data: ua.DataValue) -> Reading | None:
    """A reading from a data value, or None when the value is bad (no value yet, access denied)."""
    if data.StatusCode is not None and not data.StatusCode.is_good():
        return None
    value = data.Value.Value if data.Value is not None else None
    return Reading(key, plain(value), source_ts(data))


def source_ts(data: ua.DataValue) -> datetime:
    """The control's own timestamp: SourceTimestamp, else ServerTimestamp, else now."""
    ts = data.SourceTimestamp or data.ServerTimestamp or datetime.now(UTC)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """OPC UA wire types as plain Python values the normaliser can map."""
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    for kind, convert in _PLAIN:
        if isinstance(value, kind):
            return convert(value)
    return value


_PLAIN: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (ua.LocalizedText, lambda v: v.Text),
    (ua.QualifiedName, lambda v: v.Name),
    (ua.NodeId, lambda v: v.to_string()),
    (ua.StatusCode, lambda v: v.name),
    (enum.IntEnum, int),
    (bytes, bytes.hex),
)
