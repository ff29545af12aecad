"""Options of the ``opcua`` driver, checked once when the driver is built.

A profile gives the defaults (nodes, intervals) and a machine's ``options``
table overrides them (endpoint, credentials, certificates). A node is given as
a node id string (``nsu=SinumerikVarProvider;s=/Channel/State/progStatus``,
``ns=2;i=17``, ``i=2259``), as a table with the namespace by URI
(``{ns_uri = "...", id = "..."}``), or as a browse path from the Objects folder
or from a discovered MachineTool instance (``{path = "Monitoring/Channel*/ChannelState"}``).
Namespaces are resolved by URI at connect time, never by a fixed index.
Alarms may come as OPC UA condition events from one event notifier node
(``alarms_from_events``) instead of an alarm number variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plumbing import tomlconfig

NODE_ID_PATTERN = re.compile(r"^(nsu=[^;]+;|ns=\d+;)?(i=\d+|s=.+|g=[0-9a-fA-F-]{36}|b=.+)$")


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeSpec(_Options):
    """One signal's node: by id (namespace by URI or index) or by browse path."""

    id: str | int | None = Field(default=None, description="identifier, or a full node id string")
    ns_uri: str | None = Field(default=None, min_length=1, description="namespace URI the id lives in")
    path: str | None = Field(
        default=None,
        min_length=1,
        description="browse names from the Objects folder (or the MachineTool instance), '/'-separated, globs allowed",
    )
    mode: Literal["subscribe", "poll"] | None = Field(default=None, description="overrides the driver's mode")
    alarm_number: bool = Field(
        default=False, description="the value is an alarm number (0 = none), reported as a list of alarm codes"
    )

    @model_validator(mode="after")
    def _one_address(self) -> NodeSpec:
        if (self.id is None) == (self.path is None):
            raise ValueError("give either 'id' (with 'ns_uri' or as a full node id) or 'path'")
        if self.path is not None and self.ns_uri is not None:
            raise ValueError("'ns_uri' goes with 'id', not with 'path'")
        if isinstance(self.id, str) and self.ns_uri is None and not NODE_ID_PATTERN.match(self.id):
            raise ValueError(f"{self.id!r} is not a node id such as 'nsu=URI;s=/Channel/State/progStatus' or 'i=2259'")
        return self

    def describe(self) -> str:
        if self.path is not None:
            return f"path {self.path}"
        if self.ns_uri is not None:
            return f"nsu={self.ns_uri};{identifier_text(self.id)}"
        return str(self.id)


def identifier_text(identifier: str | int | None) -> str:
    if isinstance(identifier, int):
        return f"i={identifier}"
    text = str(identifier)
    return text if re.match(r"^(i|s|g|b)=", text) else f"s={text}"


class SecurityOptions(_Options):
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    policy: Literal["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] = "Basic256Sha256"
    certificate: Path | None = Field(default=None, description="client certificate (DER or PEM): 'atelier edge cert'")
    private_key: Path | None = Field(default=None, description="client private key (PEM)")
    private_key_password: str | None = None
    application_uri: str | None = Field(
        default=None, description="must equal the URI in the client certificate; read from it when unset"
    )
    trust_dir: Path | None = Field(default=None, description="folder of trusted server certificates (DER or PEM)")
    trust_on_first_use: bool = Field(
        default=False, description="store an unknown server certificate in trust_dir and trust it (logged)"
    )

    @model_validator(mode="after")
    def _files_for_secure_modes(self) -> SecurityOptions:
        if self.mode == "None":
            return self
        if self.certificate is None or self.private_key is None:
            raise ValueError(f"mode {self.mode} needs 'certificate' and 'private_key' (see 'atelier edge cert')")
        if self.trust_dir is None:
            raise ValueError(f"mode {self.mode} needs 'trust_dir', the folder of trusted server certificates")
        return self


class MachineToolDiscovery(_Options):
    """OPC 40501: find a MachineTool instance under the Machinery 'Machines' folder."""

    machine: str = Field(default="*", min_length=1, description="browse name (glob) of the machine to follow")


class AlarmEvents(_Options):
    """Alarms as condition events (AlarmConditionType and subtypes) from one event notifier node.

    The driver keeps the set of active conditions and reports it as one signal,
    ``key``, a list of alarms (code, message, severity) that a profile maps to
    ``alarms`` like an alarm number variable.
    """

    node: str | NodeSpec = Field(description="the event notifier: a node id, or {path = ...} from the MachineTool")
    key: str = Field(default="alarms", min_length=1, description="signal name of the active alarm list")
    code_field: str = Field(
        default="ErrorCode", min_length=1, description="browse name of the event field with the control's alarm code"
    )
    code_field_ns_uri: str | None = Field(default=None, min_length=1, description="namespace URI of code_field")
    fault_from: int = Field(default=601, ge=1, le=1000, description="OPC UA Severity from which an alarm is a fault")
    warning_from: int = Field(default=201, ge=1, le=1000, description="Severity from which it is a warning, else info")

    @field_validator("node")
    @classmethod
    def _node(cls, node: str | NodeSpec) -> str | NodeSpec:
        if isinstance(node, str) and not NODE_ID_PATTERN.match(node):
            raise ValueError(f"{node!r} is not a node id such as 'ns=2;i=17' (use a table {{path = ...}} for a path)")
        if isinstance(node, NodeSpec) and (node.mode is not None or node.alarm_number):
            raise ValueError("'mode' and 'alarm_number' are for variables, not for an event notifier")
        return node

    @model_validator(mode="after")
    def _severity_ranges(self) -> AlarmEvents:
        if self.warning_from > self.fault_from:
            raise ValueError(f"warning_from ({self.warning_from}) must not be above fault_from ({self.fault_from})")
        return self

    def spec(self) -> NodeSpec:
        return NodeSpec(id=self.node) if isinstance(self.node, str) else self.node


class OpcUaOptions(_Options):
    endpoint: str = Field(pattern=r"^opc\.tcp://[^/\s]+", description="opc.tcp://host:port[/path]")
    nodes: dict[str, str | NodeSpec] = Field(min_length=1, description="signal key -> node")
    mode: Literal["subscribe", "poll"] = "subscribe"
    sampling_interval_ms: float = Field(default=100.0, ge=0)
    publishing_interval_ms: float = Field(default=250.0, gt=0)
    keepalive_count: int = Field(default=10, ge=1, le=10_000, description="publishing intervals per keep-alive")
    poll_interval_s: float = Field(default=1.0, gt=0)
    request_timeout_s: float = Field(default=4.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    session_timeout_s: float = Field(default=60.0, ge=1)
    watchdog_interval_s: float = Field(default=2.0, gt=0, description="keep-alive read of the server state")
    security: SecurityOptions = SecurityOptions()
    username: str | None = None
    password: str | None = None
    machine_tool: MachineToolDiscovery | None = Field(
        default=None, description="paths are relative to a discovered OPC 40501 MachineTool instance"
    )
    alarms_from_events: AlarmEvents | None = Field(
        default=None, description="read alarms as condition events of this node (OPC 40501 Notification/Messages)"
    )

    @field_validator("nodes")
    @classmethod
    def _node_strings(cls, nodes: dict[str, str | NodeSpec]) -> dict[str, str | NodeSpec]:
        for key, node in nodes.items():
            if isinstance(node, str) and not NODE_ID_PATTERN.match(node):
                raise ValueError(
                    f"{key}: {node!r} is not a node id such as 'nsu=URI;s=/Channel/State/progStatus', "
                    "'ns=2;i=17' or 'i=2259' (use a table {{path = ...}} for a browse path)"
                )
        return nodes

    @model_validator(mode="after")
    def _password_with_user(self) -> OpcUaOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both 'username' and 'password', or neither")
        return self

    @model_validator(mode="after")
    def _alarm_key_free(self) -> OpcUaOptions:
        if self.alarms_from_events is not None and self.alarms_from_events.key in self.nodes:
            key = self.alarms_from_events.key
            raise ValueError(f"alarms_from_events.key {key!r} is also a key of 'nodes'; give the alarms their own name")
        return self

    def specs(self) -> dict[str, NodeSpec]:
        """Every node as a NodeSpec, strings turned into ids."""
        return {key: NodeSpec(id=node) if isinstance(node, str) else node for key, node in self.nodes.items()}


def parse(options: dict[str, Any], *, file: str) -> OpcUaOptions:
    """Validate the merged options; raise ``ConfigError`` naming the file and the ``options.`` key."""
    return tomlconfig.validate(OpcUaOptions, options, file=file, prefix="options")
