"""Cycle and part detection from successive machine states. Pure; times are source times.

Program cycles (``kind="program"``):

- **Start**: execution becomes ACTIVE in AUTOMATIC or SEMI_AUTOMATIC mode (the previous
  state was not ACTIVE in one of those modes) while no cycle is open -> CycleStarted.
- **Completed**: execution PROGRAM_COMPLETED, the ``program_end`` marker, or a part
  counter step. Completion wins when a batch also carries READY or STOPPED.
- **Aborted / alarm**: execution of class ``ready`` or ``stopped`` (READY, STOPPED), or
  the ``control_reset`` marker, without completion. The outcome is ``alarm`` when a
  fault-severity alarm code appeared while the cycle was open (even if it has cleared
  since), ``aborted`` otherwise. A fault that merely holds the machine (FEED_HOLD,
  INTERRUPTED) does not end the cycle: the operator may clear it and resume; the cycle
  ends when the control is reset.
- **Held**: execution of class ``held`` (FEED_HOLD, INTERRUPTED, OPTIONAL_STOP,
  PROGRAM_STOPPED) pauses a cycle without ending it; PROGRAM_STOPPED is M00, which resumes
  with cycle start (MTConnect), so it is a pause, not an abort. ``held_s`` sums the time
  observed in those states. Time while the link is down is not held time: it is unknown.
- The classes are the contract's (``contract.ExecutionClass``), shared with the gateway.
- Mode changes and UNAVAILABLE keep a cycle open; the next known states decide.
- **Cut by a link loss**: when the first known states after an outage end the cycle
  without completing it (READY, STOPPED, a reset: the control was reset or switched off
  meanwhile), the cycle ends when the link was lost, not when it came back: the outage
  is offline time, not cycle time. The loss time is the UNAVAILABLE observation's, which
  the pipeline stamps with the last moment the agent heard from the machine
  (``pipeline.run_machine``). Back ACTIVE or held, the cycle carried on through the
  outage and goes on; back with a completion (counter step, PROGRAM_COMPLETED, program
  end), it ends when the completion is seen: the part was made during the outage, at an
  unknown time, and the cycle cannot be shorter than the run it made the part with.
- A counter step while execution stays ACTIVE completes the cycle, and the next cycle
  starts at the next transition into ACTIVE.

Spindle sessions (``kind="spindle"``): from spindle speed > 0 (or execution ACTIVE) to a
known stop (speed 0 and not ACTIVE); outcome always completed, held_s 0. A session whose
first known state after an outage is a stop (or a reset) ends at the loss, as above.

Parts: every step of the control's counter is a PartCounted (the first value ever seen
is a baseline); a machine without a counter counts ``parts_per_cycle`` per completed
program cycle. Each part is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from edge_agent.contract import (
    Availability,
    CycleEnded,
    CycleKind,
    CycleOutcome,
    CycleStarted,
    Execution,
    ExecutionClass,
    MachineState,
    Mode,
    PartCounted,
    Severity,
    execution_class,
)
from edge_agent.drafts import Draft
from edge_agent.drivers import CONTROL_RESET, PROGRAM_END
from edge_agent.observations import Observation

CycleMode = Literal["program", "spindle"]

_ENDS_A_CYCLE = frozenset({ExecutionClass.READY, ExecutionClass.STOPPED})  # unless it completed it
_AUTO = frozenset({Mode.AUTOMATIC, Mode.SEMI_AUTOMATIC})
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class OpenCycle:
    """The cycle in progress, for the live page."""

    kind: CycleKind
    program: str | None
    started: datetime
    held_s: float  # finished holds only; add ``held_at`` for a hold still running
    holding_since: datetime | None
    parts: int

    def held_at(self, ts: datetime) -> float:
        running = max(ts - self.holding_since, _ZERO) if self.holding_since else _ZERO
        return self.held_s + running.total_seconds()


@dataclass(slots=True)
class _Cycle:
    kind: CycleKind
    program: str | None
    started: datetime
    held: timedelta = _ZERO
    holding_since: datetime | None = None
    parts: int = 0
    fault: bool = False
    # When the link was lost while the cycle was open, until a known state says it went on.
    lost_at: datetime | None = None

    def hold_until(self, ts: datetime) -> None:
        if self.holding_since is not None:
            self.held += max(ts - self.holding_since, _ZERO)
            self.holding_since = None


def counter_delta(old: int, new: int, counter_max: int | None) -> int:
    """Parts made between two counter readings, across resets and roll-over."""
    if new >= old:
        return new - old
    if counter_max is not None and old - new > counter_max / 2:
        return counter_max + 1 - old + new
    return max(new, 0)  # reset: whatever it counted since is new parts


class CycleDetector:
    def __init__(self, kind: CycleMode = "program", counter_max: int | None = None, parts_per_cycle: int = 1) -> None:
        self._kind = kind
        self._counter_max = counter_max
        self._parts_per_cycle = parts_per_cycle
        self._counter: int | None = None
        self._cycle: _Cycle | None = None

    @property
    def open_cycle(self) -> OpenCycle | None:
        c = self._cycle
        if c is None:
            return None
        return OpenCycle(c.kind, c.program, c.started, c.held.total_seconds(), c.holding_since, c.parts)

    def step(self, prev: MachineState, obs: Observation) -> list[Draft]:
        delta = self._count(obs.state.part_count)
        if self._kind == "spindle":
            return self._step_spindle(obs, delta)
        return self._step_program(prev, obs, delta)

    def _count(self, part_count: int | None) -> int:
        # A counter unknown for a while (link down) keeps its last value, so steps made
        # meanwhile are counted when it comes back.
        if part_count is None:
            return 0
        old, self._counter = self._counter, part_count
        return 0 if old is None else counter_delta(old, part_count, self._counter_max)

    def _step_program(self, prev: MachineState, obs: Observation, delta: int) -> list[Draft]:
        state, ts = obs.state, obs.ts
        drafts: list[Draft] = []
        cycle = self._cycle
        if cycle is not None:
            if not _held(state):
                cycle.hold_until(ts)
            _note_link(cycle, state, ts, going_on=_is_going_on(state) and CONTROL_RESET not in obs.markers)
            cycle.fault = cycle.fault or _fault_raised(prev, state)
            cycle.parts += delta
            outcome = _outcome(cycle, state, obs.markers, delta)
            if outcome is not None:
                # Completed: seen now. Aborted after an outage: it stopped when the link did.
                end = ts if outcome is CycleOutcome.COMPLETED or cycle.lost_at is None else cycle.lost_at
                drafts.extend(self._end(cycle, end, outcome, state))
        if delta > 0:
            drafts.append(self._part(ts, delta, state.program or (cycle.program if cycle else None)))
        if self._cycle is None and _is_running(state) and not _is_running(prev):
            drafts.append(self._start(CycleKind.CYCLE, state.program, ts))
        if self._cycle is not None and _held(state) and self._cycle.holding_since is None:
            self._cycle.holding_since = ts
        return drafts

    def _step_spindle(self, obs: Observation, delta: int) -> list[Draft]:
        state, ts = obs.state, obs.ts
        drafts: list[Draft] = []
        cycle = self._cycle
        spinning = (state.spindle_speed or 0.0) > 0 or execution_class(state.execution) is ExecutionClass.RUNNING
        reset = CONTROL_RESET in obs.markers
        if cycle is not None:
            cycle.parts += delta
            _note_link(cycle, state, ts, going_on=spinning and not reset)
            known = state.spindle_speed is not None or state.execution is not None
            if reset or (known and not spinning):
                end = ts if cycle.lost_at is None else cycle.lost_at
                drafts.extend(self._end(cycle, end, CycleOutcome.COMPLETED, state))
        if delta > 0:
            drafts.append(self._part(ts, delta, state.program))
        if self._cycle is None and spinning and not reset:
            drafts.append(self._start(CycleKind.SPINDLE_SESSION, state.program, ts))
        return drafts

    def _start(self, kind: CycleKind, program: str | None, ts: datetime) -> Draft:
        self._cycle = _Cycle(kind=kind, program=program, started=ts)
        return Draft(CycleStarted, ts, {"program": program, "kind": kind})

    def _end(self, cycle: _Cycle, ts: datetime, outcome: CycleOutcome, state: MachineState) -> list[Draft]:
        self._cycle = None
        cycle.hold_until(ts)
        program = cycle.program or state.program
        per_cycle = self._parts_per_cycle if self._counter is None and cycle.kind is CycleKind.CYCLE else 0
        if outcome is CycleOutcome.COMPLETED and per_cycle > 0:
            cycle.parts = per_cycle
        duration = max(ts - cycle.started, _ZERO)
        fields = {
            "program": program,
            "kind": cycle.kind,
            "started": cycle.started,
            "duration_s": duration.total_seconds(),
            "held_s": min(cycle.held, duration).total_seconds(),
            "parts": cycle.parts,
            "outcome": outcome,
        }
        drafts = [Draft(CycleEnded, ts, fields)]
        if outcome is CycleOutcome.COMPLETED and per_cycle > 0:
            drafts.append(self._part(ts, per_cycle, program))
        return drafts

    def _part(self, ts: datetime, count: int, program: str | None) -> Draft:
        return Draft(PartCounted, ts, {"count": count, "counter": self._counter, "program": program})


def _note_link(cycle: _Cycle, state: MachineState, ts: datetime, *, going_on: bool) -> None:
    """Remember the first loss of the link while ``cycle`` is open; forget it once the cycle shows it went on."""
    if state.availability is Availability.UNAVAILABLE:
        if cycle.lost_at is None:
            cycle.lost_at = ts
    elif going_on:
        cycle.lost_at = None


def _is_going_on(state: MachineState) -> bool:
    return execution_class(state.execution) in (ExecutionClass.RUNNING, ExecutionClass.HELD)


def _is_running(state: MachineState) -> bool:
    return execution_class(state.execution) is ExecutionClass.RUNNING and state.mode in _AUTO


def _held(state: MachineState) -> bool:
    return execution_class(state.execution) is ExecutionClass.HELD


def _fault_raised(prev: MachineState, new: MachineState) -> bool:
    before = {alarm.code for alarm in prev.alarms}
    return any(a.severity is Severity.FAULT and a.code not in before for a in new.alarms)


def _outcome(cycle: _Cycle, state: MachineState, markers: frozenset[str], delta: int) -> CycleOutcome | None:
    if state.execution is Execution.PROGRAM_COMPLETED or PROGRAM_END in markers or delta > 0:
        return CycleOutcome.COMPLETED
    if CONTROL_RESET in markers or execution_class(state.execution) in _ENDS_A_CYCLE:
        return CycleOutcome.ALARM if cycle.fault else CycleOutcome.ABORTED
    return None
