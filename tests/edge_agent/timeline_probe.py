"""One machine's agent pipeline (``run_machine``) on a real outbox, read back as a state timeline and cycles.

Issue 14 item 7 is checked per driver with these: the machine's state on (re)connection starts
the timeline, and a cycle cut by a link loss ends at the loss. Times are the agent's wall clock
around the test's actions (unplugging a pseudo-terminal, stopping an OPC UA server).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent import contract as c
from edge_agent.config import MachineConfig
from edge_agent.drivers import Driver
from edge_agent.outbox import Outbox
from edge_agent.pipeline import Backoff, run_machine
from edge_agent.profiles import Profile
from tests.edge_agent.mqtt_probe import eventually

# Reconnect quickly: the outage a test makes is what it measures, not the back-off.
QUICK = Backoff(first_s=0.1, max_s=0.2, healthy_s=60)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Change:
    ts: datetime
    availability: c.Availability
    execution: c.Execution | None


class AgentRun:
    """The messages one machine's pipeline stored, as the gateway would read them."""

    def __init__(self, outbox: Outbox, machine: str) -> None:
        self.outbox = outbox
        self.machine = machine
        self.stored: list[c.Message] | None = None  # kept once the agent has stopped

    def messages(self) -> list[c.Message]:
        if self.stored is not None:
            return self.stored
        return [c.decode(item.topic, item.payload)[1] for item in self.outbox.pending(100_000)]

    def changes(self) -> list[Change]:
        return [Change(m.ts, m.availability, m.execution) for m in self.messages() if isinstance(m, c.StateChanged)]

    def cycles(self) -> list[c.CycleEnded]:
        return [m for m in self.messages() if isinstance(m, c.CycleEnded)]

    def state_at(self, ts: datetime) -> Change | None:
        """The state the timeline shows at ``ts``: the latest change at or before it, by source time (as stored)."""
        before = [change for change in sorted(self.changes(), key=lambda ch: ch.ts) if change.ts <= ts]
        return before[-1] if before else None

    async def until(self, condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
        await eventually(condition, timeout_s, what)

    def last_is(self, availability: c.Availability, execution: c.Execution | None) -> bool:
        changes = self.changes()
        return bool(changes) and (changes[-1].availability, changes[-1].execution) == (availability, execution)


@contextlib.asynccontextmanager
async def agent(
    tmp_path: Path, machine_id: str, driver: Driver, profile: Profile | None, kind: str = "serial"
) -> AsyncIterator[AgentRun]:
    """``run_machine`` for ``driver`` in a task, storing into a fresh outbox; cancelled on exit."""
    outbox = Outbox(
        tmp_path / f"outbox-{machine_id}.sqlite",
        agent="pc-1",
        site="lyon",
        event_budget=100_000,
        telemetry_budget=1000,
        retention_s=600,
    )
    machine = MachineConfig(id=machine_id, driver=kind)
    task = asyncio.create_task(
        run_machine(machine, profile=profile, outbox=outbox, wake=lambda: None, driver=driver, backoff=QUICK)
    )
    run = AgentRun(outbox, machine_id)
    try:
        yield run
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        run.stored = run.messages()
        outbox.close()


def seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()
