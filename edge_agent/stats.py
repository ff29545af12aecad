"""The agent's counters, kept where things happen and read by the ``/metrics`` endpoint.

Plain integers touched only from the asyncio loop: no locks, nothing to flush. The outbox
and the drivers are wrapped rather than edited, so that counting stays out of their logic.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from edge_agent.contract import Availability, MachineState
from edge_agent.drafts import Draft
from edge_agent.drivers import Batch, Driver
from edge_agent.outbox import Outbox


@dataclass
class MachineStats:
    available: bool = False  # as last stored in the outbox, i.e. as published
    link_attempts: int = 0  # the first link plus every reconnect of the driver

    @property
    def reconnects(self) -> int:
        return max(self.link_attempts - 1, 0)


@dataclass
class AgentStats:
    started_at: float = field(default_factory=time.time)
    events_stored: int = 0  # events and state snapshots committed to the outbox
    telemetry_stored: int = 0
    published: int = 0  # outbox rows handed to the MQTT client, replays included
    acknowledged: int = 0  # PUBACK received (QoS 0: written to the socket)
    refused: int = 0  # PUBACK with a failure reason, e.g. "Not authorized"
    mqtt_connected: bool = False
    mqtt_connects: int = 0
    mqtt_connect_failures: int = 0  # refused by the broker or unreachable
    replay_requests: int = 0
    replayed: int = 0
    machines: dict[str, MachineStats] = field(default_factory=dict)

    @property
    def mqtt_reconnects(self) -> int:
        return max(self.mqtt_connects - 1, 0)

    def machine(self, machine_id: str) -> MachineStats:
        return self.machines.setdefault(machine_id, MachineStats())


class CountingOutbox(Outbox):
    """The outbox, counting what is stored and noting each machine's published availability."""

    def __init__(
        self,
        path: Path,
        *,
        stats: AgentStats,
        agent: str,
        site: str,
        event_budget: int,
        telemetry_budget: int,
        retention_s: float,
    ) -> None:
        super().__init__(
            path,
            agent=agent,
            site=site,
            event_budget=event_budget,
            telemetry_budget=telemetry_budget,
            retention_s=retention_s,
        )
        self.counters = stats

    def put(
        self, machine: str, drafts: Sequence[Draft], state: MachineState | None = None, *, ts: datetime | None = None
    ) -> list[int]:
        seqs = super().put(machine, drafts, state, ts=ts)
        self.counters.events_stored += len(seqs)
        if state is not None:
            self.counters.machine(machine).available = state.availability is Availability.AVAILABLE
        return seqs

    def put_telemetry(self, machine: str, ts: datetime, values: dict[str, float]) -> int:
        seq = super().put_telemetry(machine, ts, values)
        self.counters.telemetry_stored += 1
        return seq


class CountingDriver:
    """A driver that counts its link attempts; everything else is the wrapped driver's."""

    def __init__(self, driver: Driver, stats: MachineStats) -> None:
        self.driver = driver
        self.stats = stats

    @property
    def last_heard(self) -> datetime | None:
        """The wrapped driver's (see ``edge_agent.drivers``): when the outage began is its to say."""
        heard: datetime | None = getattr(self.driver, "last_heard", None)
        return heard

    async def readings(self) -> AsyncIterator[Batch]:
        self.stats.link_attempts += 1
        inner = self.driver.readings()
        try:
            async for batch in inner:
                yield batch
        finally:
            # Close the driver's generator now, not when it is collected: its finally closes the link.
            close = getattr(inner, "aclose", None)
            if close is not None:
                await close()
