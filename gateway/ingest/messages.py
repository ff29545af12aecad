"""What ingest hands from one stage to the next: a message off the bus, one accepted, a batch's outcome.

Plain data that imports neither paho nor sqlalchemy, so that the live view, the
InfluxDB sink and the metrics read what ingest committed without pulling in the
MQTT client or the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from edge_agent import contract

AgentKey = tuple[str, str]  # (site, agent)


@dataclass(frozen=True, slots=True)
class Received:
    """One message off the bus, with what is needed to acknowledge it later."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message now in the store (or, for telemetry, validated), for the live view."""

    topic: contract.Topic
    message: contract.Message
    received_at: datetime
    agent_machines: tuple[str, ...] = ()  # for an agent status: every machine the agent owns


@dataclass
class BatchOutcome:
    accepted: list[Accepted] = field(default_factory=list)
    observed: list[tuple[AgentKey, int, bool]] = field(default_factory=list)  # (agent, seq, may start tracking)
    # Seqs of an agent refused for a machine it announces but does not own: asked for again once it is moved.
    held: list[tuple[AgentKey, int]] = field(default_factory=list)
    duplicates: int = 0
    dead_letters: int = 0
    foreign: int = 0  # of the dead letters: machine messages naming an agent that does not own the machine
    claims_refused: int = 0  # statuses announcing a machine another agent owns (a dead-letter row each, still accepted)
    replays: int = 0  # batches written again message by message
    splits: int = 0  # batches split in halves to isolate a message

    def merge(self, other: BatchOutcome) -> None:
        self.accepted.extend(other.accepted)
        self.observed.extend(other.observed)
        self.held.extend(other.held)
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.foreign += other.foreign
        self.claims_refused += other.claims_refused
        self.replays += other.replays
        self.splits += other.splits
