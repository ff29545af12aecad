"""The simulated CNC's behaviour as a plain, seeded script: no clock, no I/O.

``SimulatorScript.steps()`` says what the machine does: wait this long, then these
values change together (one batch). Every random choice comes from one
``random.Random(seed)``, so a seed always plays the same script; the driver in
``driver.py`` plays it against a clock.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.contract import Availability, CycleOutcome, Execution, Mode

ToolName = Annotated[str, Field(min_length=1, max_length=64)]

# Faults the simulated control raises mid-cycle (code, message).
ALARMS = (
    ("1010", "Spindle overload"),
    ("2051", "Z axis following error"),
    ("3003", "Coolant level low"),
    ("4120", "Tool breakage detected"),
)
_IDLE = {"spindle_speed": 0.0, "spindle_load": 0.0, "feed_rate": 0.0}
_SETTLE_S = 1.0  # PROGRAM_COMPLETED shows this long before the control is READY again


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProgramSpec(_Options):
    name: str = Field(min_length=1, max_length=256)
    cycle_s: float = Field(gt=0, description="cutting time of one cycle, before jitter")
    parts_per_cycle: int = Field(default=1, ge=1)
    tool: ToolName | tuple[ToolName, ...] = Field(default="T1", description="a tool, or the tools used in turn")

    @property
    def tools(self) -> tuple[str, ...]:
        return (self.tool,) if isinstance(self.tool, str) else self.tool or ("T1",)


_DEFAULT_PROGRAMS = (
    ProgramSpec(name="O1001", cycle_s=40.0, tool=("T1", "T4", "T7")),
    ProgramSpec(name="O1002", cycle_s=25.0, parts_per_cycle=2, tool=("T2", "T5")),
)


class SimulatorOptions(_Options):
    seed: int = 0
    programs: tuple[ProgramSpec, ...] = Field(default=_DEFAULT_PROGRAMS, min_length=1)
    jitter: float = Field(default=0.1, ge=0, lt=1, description="fraction by which times vary")
    idle_s: float = Field(default=5.0, ge=0, description="between cycles")
    feed_hold_chance: float = Field(default=0.1, ge=0, le=1)
    feed_hold_s: float = Field(default=4.0, ge=0)
    alarm_chance: float = Field(default=0.03, ge=0, le=1)
    alarm_s: float = Field(default=8.0, ge=0, description="until the alarm is cleared and the control READY")
    abort_chance: float = Field(default=0.03, ge=0, le=1)
    mode_change_chance: float = Field(default=0.05, ge=0, le=1)
    setup_s: float = Field(default=15.0, ge=0, description="time in MANUAL for a setup between cycles")
    program_change_every: int | None = Field(default=5, ge=1, description="cycles")
    counter: bool = Field(default=True, description="false simulates a control without a part counter")
    counter_start: int = Field(default=0, ge=0)
    counter_max: int | None = Field(default=None, ge=1, description="the counter rolls over to 0 after this")
    telemetry_interval_s: float = Field(default=1.0, gt=0)
    cycles: int | None = Field(default=None, ge=0, description="stop after this many cycles, then stay READY")
    record_path: Path | None = Field(default=None, description="JSON lines: each cycle completed or aborted")

    @model_validator(mode="after")
    def _counter_in_range(self) -> SimulatorOptions:
        if self.counter_max is not None and self.counter_start > self.counter_max:
            raise ValueError(f"counter_start {self.counter_start} is above counter_max {self.counter_max}")
        return self


@dataclass(frozen=True, slots=True)
class CycleEnd:
    program: str
    outcome: CycleOutcome
    parts: int


Mark = Literal["start", "hold", "resume"] | CycleEnd | None


@dataclass(frozen=True, slots=True)
class Step:
    """Wait ``delay_s``, then ``values`` change together (one batch)."""

    delay_s: float
    values: dict[str, Any]
    mark: Mark = None


class SimulatorScript:
    def __init__(self, options: SimulatorOptions) -> None:
        self._o = options
        self._rng = random.Random(options.seed)  # noqa: S311 - a simulation, not cryptography
        self._program = 0
        self._counter = options.counter_start
        self._rpm = 0.0
        self._feed = 0.0
        self._feed_override = 100.0

    def steps(self) -> Iterator[Step]:
        """The whole script; finite when ``cycles`` is set (the machine then stays READY)."""
        yield Step(0.0, self._initial())
        done = 0
        while self._o.cycles is None or done < self._o.cycles:
            wait = yield from self._between_cycles(done)
            yield from self._cycle(wait)
            done += 1

    def _initial(self) -> dict[str, Any]:
        program = self._o.programs[0]
        values: dict[str, Any] = {
            "availability": Availability.AVAILABLE.value,
            "mode": Mode.AUTOMATIC.value,
            "execution": Execution.READY.value,
            "program": program.name,
            "tool": program.tools[0],
            "alarms": [],
            "emergency_stop": False,
            **_IDLE,
            "feed_override": self._feed_override,
            "spindle_override": 100.0,
        }
        if self._o.counter:
            values["part_count"] = self._counter
        return values

    def _between_cycles(self, done: int) -> Generator[Step, None, float]:
        """Program change and setup between cycles; returns the idle time left before the start."""
        idle = self._jittered(self._o.idle_s)
        every = self._o.program_change_every
        if done and every and done % every == 0 and len(self._o.programs) > 1:
            self._program = (self._program + 1) % len(self._o.programs)
            spec = self._o.programs[self._program]
            idle /= 2
            yield Step(idle, {"program": spec.name, "tool": spec.tools[0]})
        if self._rng.random() < self._o.mode_change_chance:
            idle /= 2
            yield Step(idle, {"mode": Mode.MANUAL.value})
            yield Step(self._jittered(self._o.setup_s), {"mode": Mode.AUTOMATIC.value})
        return idle

    def _cycle(self, wait: float) -> Iterator[Step]:
        spec = self._o.programs[self._program]
        cut = self._jittered(spec.cycle_s)
        hold_at = self._rng.uniform(0.1, 0.9) * cut if self._rng.random() < self._o.feed_hold_chance else None
        draw = self._rng.random()
        end_at, ending = cut, "complete"
        if draw < self._o.alarm_chance + self._o.abort_chance:
            end_at = self._rng.uniform(0.05, 0.95) * cut
            ending = "alarm" if draw < self._o.alarm_chance else "abort"
        plan = [(k * cut / len(spec.tools), f"tool:{tool}") for k, tool in enumerate(spec.tools) if k]
        if hold_at is not None:
            plan.append((hold_at, "hold"))
        plan = sorted(item for item in plan if item[0] < end_at)
        self._new_tool()
        yield Step(wait, {"execution": Execution.ACTIVE.value, "tool": spec.tools[0], **self._cutting()}, "start")
        now = 0.0
        for at, action in plan:
            now = yield from self._cut_until(now, at)
            yield from self._act(action, at - now)
            now = at
        now = yield from self._cut_until(now, end_at)
        yield from self._end(spec, ending, end_at - now)

    def _act(self, action: str, delay: float) -> Iterator[Step]:
        if action == "hold":
            held = {"execution": Execution.FEED_HOLD.value, "feed_rate": 0.0, "spindle_load": 2.0}
            yield Step(delay, held, "hold")
            yield Step(self._jittered(self._o.feed_hold_s), {"execution": Execution.ACTIVE.value}, "resume")
        else:
            self._new_tool()
            yield Step(delay, {"tool": action.removeprefix("tool:"), **self._cutting()})

    def _end(self, spec: ProgramSpec, ending: str, delay: float) -> Iterator[Step]:
        if ending == "alarm":
            code, message = self._rng.choice(ALARMS)
            alarm = {"code": code, "message": message, "severity": "fault"}
            stopped = {"execution": Execution.STOPPED.value, "alarms": [alarm], **_IDLE}
            yield Step(delay, stopped, CycleEnd(spec.name, CycleOutcome.ALARM, 0))
            yield Step(self._jittered(self._o.alarm_s), {"alarms": [], "execution": Execution.READY.value})
        elif ending == "abort":
            yield Step(
                delay, {"execution": Execution.READY.value, **_IDLE}, CycleEnd(spec.name, CycleOutcome.ABORTED, 0)
            )
        else:
            done: dict[str, Any] = {"execution": Execution.PROGRAM_COMPLETED.value, **_IDLE}
            if self._o.counter:
                done["part_count"] = self._count(spec.parts_per_cycle)
            yield Step(delay, done, CycleEnd(spec.name, CycleOutcome.COMPLETED, spec.parts_per_cycle))
            yield Step(min(_SETTLE_S, self._o.idle_s), {"execution": Execution.READY.value})

    def _cut_until(self, now: float, until: float) -> Generator[Step, None, float]:
        """Telemetry while cutting, up to (not at) ``until``; returns the time of the last sample."""
        interval = self._o.telemetry_interval_s
        while now + interval < until:
            now += interval
            yield Step(interval, self._cutting())
        return now

    def _count(self, parts: int) -> int:
        self._counter += parts
        if self._o.counter_max is not None:
            self._counter %= self._o.counter_max + 1
        return self._counter

    def _new_tool(self) -> None:
        self._rpm = self._rng.choice((1800.0, 2500.0, 3200.0, 4500.0, 6000.0, 8000.0))
        self._feed = self._rng.uniform(200.0, 1500.0)

    def _cutting(self) -> dict[str, Any]:
        if self._rng.random() < 0.02:
            self._feed_override = self._rng.choice((80.0, 90.0, 100.0, 110.0, 120.0))
        noise = self._rng.uniform(-0.01, 0.01)
        return {
            "spindle_speed": round(self._rpm * (1 + noise), 1),
            "spindle_load": round(self._rng.uniform(15.0, 60.0), 1),
            "feed_rate": round(self._feed * self._feed_override / 100 * (1 + noise), 1),
            "feed_override": self._feed_override,
            "spindle_override": 100.0,
        }

    def _jittered(self, seconds: float) -> float:
        return seconds * (1 + self._rng.uniform(-self._o.jitter, self._o.jitter))
