"""Issue 14 item 7 in the pipeline: when an outage starts (``loss_time``), and the simulator's first state.

The per-driver checks against real devices are in serial/test_serial_timeline.py and
opcua/test_opcua_timeline.py; here a small scripted driver says when it last heard from its
machine, which the real ones cannot be made to do on cue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.contract import Availability, CycleOutcome, Execution
from edge_agent.drivers import Batch, Reading
from edge_agent.drivers.simulator.driver import SimulatorDriver
from edge_agent.drivers.simulator.script import SimulatorOptions
from edge_agent.errors import DriverError
from edge_agent.pipeline import loss_time
from edge_agent.stats import AgentStats, CountingDriver
from edge_agent.tracker import MachineTracker
from tests.edge_agent.timeline_probe import agent, now

AVAILABLE, UNAVAILABLE = Availability.AVAILABLE, Availability.UNAVAILABLE


class SilentThenLost:
    """Runs a program for ``run_s``, then falls silent for ``silent_s`` before it notices; comes back READY."""

    def __init__(self, run_s: float, silent_s: float, *, says_when: bool = True) -> None:
        self.run_s, self.silent_s, self.says_when = run_s, silent_s, says_when
        self.last_heard: datetime | None = None
        self.calls = 0
        self.silent_from: datetime | None = None

    async def readings(self) -> AsyncIterator[Batch]:
        self.calls += 1
        if self.calls == 1:
            yield self._heard([("mode", "AUTOMATIC"), ("execution", "READY"), ("program", "O7")])
            yield self._heard([("execution", "ACTIVE")])
            await asyncio.sleep(self.run_s)
            yield self._heard([("spindle_speed", 1000.0)])
            self.silent_from = self.last_heard
            await asyncio.sleep(self.silent_s)
            raise DriverError("silent for too long")
        yield self._heard([("mode", "AUTOMATIC"), ("execution", "READY"), ("program", "O7")])
        await asyncio.Event().wait()

    def _heard(self, pairs: list[tuple[str, object]]) -> Batch:
        ts = now()
        if self.says_when:
            self.last_heard = ts
        return [Reading(key, value, ts) for key, value in pairs]


@pytest.mark.parametrize("counted", [False, True], ids=["bare", "as-the-agent-wraps-it"])
async def test_outage_and_cut_cycle_start_at_the_last_reading_heard(tmp_path: Path, counted: bool) -> None:
    driver = SilentThenLost(run_s=0.5, silent_s=1.0)
    wrapped = CountingDriver(driver, AgentStats().machine("m1")) if counted else driver
    async with agent(tmp_path, "m1", wrapped, None, kind="scripted") as run:
        await run.until(lambda: bool(run.cycles()), "the cycle ended")
    assert driver.silent_from is not None
    (cycle,) = run.cycles()
    assert cycle.outcome is CycleOutcome.ABORTED
    assert cycle.ts == driver.silent_from, "not when the silence was noticed, a second later"
    (lost,) = [ch for ch in run.changes() if ch.availability is UNAVAILABLE]
    assert lost.ts == cycle.ts
    assert 0.5 <= cycle.duration_s < 0.9


async def test_a_driver_that_cannot_say_leaves_the_outage_at_its_detection(tmp_path: Path) -> None:
    driver = SilentThenLost(run_s=0.2, silent_s=1.0, says_when=False)
    async with agent(tmp_path, "m1", driver, None, kind="scripted") as run:
        await run.until(lambda: bool(run.cycles()), "the cycle ended")
    assert driver.silent_from is None
    (cycle,) = run.cycles()
    assert cycle.duration_s >= 1.2, "detection time: the run and the silence"


def test_loss_time_never_before_the_last_observation_nor_after_the_detection() -> None:
    t0 = now()
    tracker = MachineTracker(None)

    class Heard:
        last_heard: datetime | None = None

    driver = Heard()
    detected = t0 + timedelta(seconds=10)
    assert loss_time(driver, tracker, detected) == detected, "never heard: detection"
    driver.last_heard = t0 + timedelta(seconds=2)
    assert loss_time(driver, tracker, detected) == driver.last_heard, "heard, nothing observed"
    tracker.feed([Reading("availability", "AVAILABLE", t0 + timedelta(seconds=3))])
    assert loss_time(driver, tracker, detected) == t0 + timedelta(seconds=3), "not before the last observation"
    driver.last_heard = t0 + timedelta(seconds=30)
    assert loss_time(driver, tracker, detected) == detected, "a driver clock ahead is not trusted"
    assert loss_time(object(), tracker, detected) == detected, "a driver without last_heard"


async def test_simulator_starts_the_timeline_ready(tmp_path: Path) -> None:
    options = SimulatorOptions.model_validate({"seed": 1, "idle_s": 60.0, "setup_s": 0.0, "cycles": 1})
    started = now()
    async with agent(tmp_path, "sim", SimulatorDriver(machine_id="sim", options=options), None, "simulator") as run:
        await run.until(lambda: bool(run.changes()), "the first state")
        await asyncio.sleep(0.3)
    (first,) = run.changes()
    assert (first.availability, first.execution) == (AVAILABLE, Execution.READY)
    assert started <= first.ts < started + timedelta(seconds=2)
