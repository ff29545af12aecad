"""A ProductionPlan whose jobs come and go, as on the umati FullDynamic machine tool.

Every ``replace()`` creates a job that is Running (``RunsCompleted`` 0), ends the
job that was running (Ended, kept one more round so that the plan holds an ended
job next to the running one) and deletes the one before it. Job names sort
neither by age nor by state ("Job 10" before "Job 9"), so a client that takes the
first match by name reads the wrong job. With ``model_change_events`` each
replacement fires a GeneralModelChangeEvent from the Server object, as servers
that send them do; without, a client must browse again to notice.

The plan keeps a log of every value written to a job's RunsCompleted with its
source time: the truth a test compares the agent's readings against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from asyncua import Node, Server, ua
from asyncua.server.event_generator import EventGenerator

RUNNING, ENDED = 1, 2  # ProductionStateMachine numbers


@dataclass(frozen=True, slots=True)
class RunsWritten:
    job: str
    runs: int
    ts: datetime


class JobPlan:
    def __init__(self, server: Server, plan: Node, own_ns: int, tool_ns: int, *, model_change_events: bool) -> None:
        self._server = server
        self._plan = plan
        self._own_ns, self._tool_ns = own_ns, tool_ns
        self._model_change_events = model_change_events
        self._jobs: list[tuple[str, Node]] = []  # oldest first: (name, job object)
        self._runs: dict[str, Node] = {}
        self._states: dict[str, Node] = {}
        self._generator: EventGenerator | None = None
        self.created = 0
        self.log: list[RunsWritten] = []
        self._base = 0  # the machine's cumulative count when the running job started

    @property
    def running(self) -> str | None:
        return self._jobs[-1][0] if self._jobs else None

    async def replace(self, part_count: int) -> str:
        """A new running job; the previous one ends, the one before it is deleted. Returns the new job's name."""
        self.created += 1
        name = f"Job {self.created}"
        ts = datetime.now(UTC)
        own, tool = self._own_ns, self._tool_ns
        job = await self._plan.add_object(ua.NodeId(f"plan.{name}", own), ua.QualifiedName(name, tool))
        state = await job.add_object(ua.NodeId(f"plan.{name}.State", own), ua.QualifiedName("State", tool))
        current = await state.add_variable(
            ua.NodeId(f"plan.{name}.State.CurrentState", own),
            ua.QualifiedName("CurrentState", 0),
            ua.Variant("Running", ua.VariantType.String),
        )
        self._states[name] = await current.add_variable(
            ua.NodeId(f"plan.{name}.State.CurrentState.Number", own),
            ua.QualifiedName("Number", 0),
            ua.Variant(RUNNING, ua.VariantType.UInt32),
        )
        self._runs[name] = await job.add_variable(
            ua.NodeId(f"plan.{name}.RunsCompleted", own),
            ua.QualifiedName("RunsCompleted", tool),
            ua.Variant(0, ua.VariantType.UInt32),
        )
        await self._write(self._runs[name], 0, ts)
        self.log.append(RunsWritten(name, 0, ts))
        if self._jobs:
            await self._write(self._states[self._jobs[-1][0]], ENDED, ts)
        self._jobs.append((name, job))
        self._base = part_count
        if len(self._jobs) > 2:
            old, node = self._jobs.pop(0)
            await self._delete(self._runs.pop(old), self._states.pop(old), node)
        await self._model_changed()
        return name

    async def count(self, part_count: int, ts: datetime) -> None:
        """The machine's counter stepped: the running job's RunsCompleted follows (from 0 at the job's start)."""
        name = self.running
        if name is None:
            return
        runs = max(part_count - self._base, 0)
        await self._write(self._runs[name], runs, ts)
        self.log.append(RunsWritten(name, runs, ts))

    async def _delete(self, runs: Node, state: Node, job: Node) -> None:
        """Delete a job; whoever monitors its variables is told they are gone (BadNodeIdUnknown).

        A real server's next sample of a deleted node says so. asyncua's own delete
        means to, but calls its async callback without awaiting it: the simulator
        sends the status itself and unhooks the monitored items first.
        """
        aspace = self._server.iserver.aspace
        for variable in (runs, state):
            gone = ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown))
            await self._server.write_attribute_value(variable.nodeid, gone)
            callbacks = aspace[variable.nodeid].attributes[ua.AttributeIds.Value].datachange_callbacks
            for handle in list(callbacks):
                aspace.delete_datachange_callback(handle)
        await self._server.delete_nodes([job], recursive=True)

    async def _write(self, node: Node, value: int, ts: datetime) -> None:
        data = ua.DataValue(ua.Variant(value, ua.VariantType.UInt32), SourceTimestamp=ts, ServerTimestamp=ts)
        await self._server.write_attribute_value(node.nodeid, data)

    async def _model_changed(self) -> None:
        if not self._model_change_events:
            return
        if self._generator is None:
            self._generator = await self._server.get_event_generator(
                ua.ObjectIds.GeneralModelChangeEventType, ua.ObjectIds.Server
            )
        await self._generator.trigger(message="ProductionPlan changed")
