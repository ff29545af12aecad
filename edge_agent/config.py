"""The edge agent's configuration file (``/etc/atelier/edge.toml``), checked once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.contract import ID_PATTERN, RESERVED_MACHINE_IDS
from plumbing import tomlconfig
from plumbing.addresses import HostName, ListenAddress, parse_listen


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentSection(_Section):
    id: str = Field(pattern=ID_PATTERN, description="agent id on the bus, e.g. the workshop PC's name")
    site: str = Field(pattern=ID_PATTERN, description="school or site id, the third level of every topic")
    state_dir: Path = Field(default=Path("/var/lib/atelier/edge"), description="outbox and sequence numbers")
    metrics_listen: ListenAddress | None = Field(
        default=None,
        description='host:port of the Prometheus /metrics endpoint, such as "127.0.0.1:9101"; off when unset',
    )

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        return parse_listen(self.metrics_listen) if self.metrics_listen else None


class TlsSection(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


class BrokerSection(_Section):
    host: HostName = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    tls: TlsSection | None = None
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)


class OutboxSection(_Section):
    # Unsent events beyond this raise an alarm; they are never dropped.
    event_budget: int = Field(default=1_000_000, ge=100)
    # Unsent telemetry beyond this is dropped oldest-first.
    telemetry_budget: int = Field(default=100_000, ge=10)
    retention_h: float = Field(default=24.0, ge=0, description="how long sent events stay for replay")
    max_inflight: int = Field(default=200, ge=1, le=65535)


class MachineConfig(_Section):
    id: str = Field(pattern=ID_PATTERN)
    driver: str = Field(description="simulator, opcua or serial")
    profile: str | None = Field(default=None, description="file name in machine_profiles/, or a path")
    telemetry_interval_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600, description="longest wait between link attempts")
    options: dict[str, Any] = Field(default_factory=dict, description="driver options, checked by the driver")


class EdgeConfig(_Section):
    agent: AgentSection
    broker: BrokerSection = BrokerSection()
    outbox: OutboxSection = OutboxSection()
    profiles_dir: Path | None = Field(default=None, description="where profile names are looked up")
    machines: list[MachineConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_machines(self) -> EdgeConfig:
        seen: set[str] = set()
        for machine in self.machines:
            if machine.id in RESERVED_MACHINE_IDS:
                raise ValueError(f"machine id {machine.id!r} is reserved")
            if machine.id in seen:
                raise ValueError(f"machine id {machine.id!r} appears twice")
            seen.add(machine.id)
        return self


def load(path: Path) -> EdgeConfig:
    """Read and check the file; raise ``tomlconfig.ConfigError`` listing every problem."""
    return tomlconfig.load(path, EdgeConfig)
