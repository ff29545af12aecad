"""Machine profiles: data files in ``machine_profiles/`` saying what to read and how it maps.

A profile names its driver, gives driver option defaults (nodes, commands, line
settings) and maps the driver's raw signals to canonical ``MachineState``
fields with value maps and scaling. A new machine model is a new profile file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.contract import MachineState
from plumbing import tomlconfig

PROFILES_DIR = Path(__file__).resolve().parent.parent / "machine_profiles"

# Canonical targets a signal may map to: state fields plus transient markers.
MARKERS = ("program_end", "control_reset")
TARGETS = (*MachineState.model_fields.keys(), *MARKERS)

Scalar = str | int | float | bool | None


class SignalMap(BaseModel):
    """How one raw signal becomes one canonical field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=1, description="the driver's signal name (node key, status field)")
    map: dict[str, Scalar] = Field(default_factory=dict, description="raw value (as text) -> canonical value")
    scale: float = 1.0
    offset: float = 0.0
    unmapped: Literal["keep", "drop"] = Field(
        default="keep", description="what to do with a raw value missing from map"
    )
    fallback: SignalMap | None = Field(
        default=None,
        description="read instead while the machine has never sent ``source`` (a control without that node)",
    )

    def chain(self) -> list[SignalMap]:
        """This map and its fallbacks, first choice first."""
        maps: list[SignalMap] = []
        current: SignalMap | None = self
        while current is not None:
            maps.append(current)
            current = current.fallback
        return maps


class ProfileHeader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    driver: str
    description: str = ""
    verified: bool = Field(default=True, description="false where node ids come from unverified sources")
    notes: str = ""


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: ProfileHeader
    options: dict[str, Any] = Field(default_factory=dict, description="driver option defaults")
    signals: dict[str, SignalMap] = Field(default_factory=dict)
    cycles: Literal["program", "spindle"] = Field(
        default="program", description="'spindle' for machines without program state (spindle-on sessions)"
    )
    counter_max: int | None = Field(default=None, ge=1, description="the part counter rolls over after this")
    parts_per_cycle: int = Field(default=1, ge=0, description="parts per completed cycle when there is no counter")
    cycles_without_mode: bool = Field(
        default=False,
        description="program cycles also start while the mode is unknown (a control that reports no mode at all)",
    )
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _known_targets(self) -> Profile:
        for target in self.signals:
            if target not in TARGETS:
                raise ValueError(f"signals.{target}: not a canonical field; expected one of {', '.join(TARGETS)}")
        return self

    def merged_options(self, machine_options: dict[str, Any]) -> dict[str, Any]:
        """Profile defaults overlaid by the machine's own options (one level of tables merged)."""
        merged = dict(self.options)
        for key, value in machine_options.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return merged


def resolve(name: str, profiles_dir: Path | None = None) -> Path:
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.exists():
        return candidate
    base = profiles_dir or PROFILES_DIR
    return base / (name if name.endswith(".toml") else f"{name}.toml")


def load(name: str, profiles_dir: Path | None = None) -> Profile:
    path = resolve(name, profiles_dir)
    profile = tomlconfig.load(path, Profile)
    return profile.model_copy(update={"path": path})
