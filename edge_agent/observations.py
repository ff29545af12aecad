"""A normalised observation: the machine's whole state after one batch of readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge_agent.contract import MachineState


@dataclass(frozen=True, slots=True)
class Observation:
    ts: datetime
    state: MachineState
    # Transient markers seen in this batch ("program_end", "control_reset").
    markers: frozenset[str] = frozenset()
