"""Issue 14 item 7 for the serial drivers, through the agent's pipeline into a real outbox.

GRBL, Haas (Q commands) and the line box on pseudo-terminals: a quiet machine's state on
(re)connection starts the timeline (READY, not UNAVAILABLE until something changes), and a
cycle cut by a link loss and then aborted ends at the loss; the outage is UNAVAILABLE time.
Unplugging closes the pseudo-terminal (the read fails at once); a machine that stops
answering keeps it open and says nothing (the driver notices after its read timeout, and the
outage still starts at the last byte heard).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from atelier.simulators import GrblSimulator, HaasMachine, HaasPtySimulator, LineboxSimulator
from edge_agent import profiles
from edge_agent.contract import Availability, CycleKind, CycleOutcome, Execution
from edge_agent.drivers import build
from edge_agent.drivers.serial.driver import HaasDriver, LineboxDriver
from edge_agent.drivers.serial.grbl_driver import GrblDriver
from tests.edge_agent.serial.conftest import wait_for
from tests.edge_agent.timeline_probe import AgentRun, agent, now, seconds

AVAILABLE, UNAVAILABLE = Availability.AVAILABLE, Availability.UNAVAILABLE
GRBL = profiles.load("grbl-1.1")
HAAS = profiles.load("haas-ngc-q")
BOX = profiles.load("linebox-lathe")
SLACK_S = 0.5  # a poll interval, a thread hop and a loaded CI machine


def long_program(moves: int = 400) -> str:
    body = "\n".join(f"G1 X{(i % 5) * 4} Y{(i * 3) % 7} F300" for i in range(moves))
    return f"%\nG21 G90\nM3 S1000\n{body}\nM30\n%\n"


def grbl_driver(sim: GrblSimulator, tmp_path: Path) -> GrblDriver:
    options = GRBL.merged_options({"port": sim.path, "state_dir": str(tmp_path / "state"), "read_timeout_s": 2.0})
    driver = build("serial", machine_id="grbl-1", options=options, profile=GRBL)
    assert isinstance(driver, GrblDriver)
    return driver


class Pluggable(Protocol):
    def unplug(self) -> None: ...
    def replug(self) -> None: ...


async def unplug_and_replug_a_quiet_machine(run: AgentRun, device: Pluggable) -> None:
    """READY on connection; unplugged, then plugged back a second later: the timeline shows each step."""
    await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY on connection")
    await asyncio.sleep(0.5)
    unplugged = now().timestamp()
    device.unplug()
    await run.until(lambda: run.last_is(UNAVAILABLE, None), "UNAVAILABLE")
    await asyncio.sleep(1.0)
    replugged = now().timestamp()
    device.replug()
    await run.until(lambda: len(run.changes()) >= 3, "READY again")
    await asyncio.sleep(0.5)  # nothing else comes
    assert_quiet_reconnection(run, unplugged, replugged, Execution.READY)


def assert_quiet_reconnection(run: AgentRun, unplugged: float, replugged: float, state: Execution) -> None:
    """READY (or ``state``) from the connection, UNAVAILABLE from the loss, ``state`` again from the reconnection."""
    changes = [(ch.availability, ch.execution) for ch in run.changes()]
    assert changes == [(AVAILABLE, state), (UNAVAILABLE, None), (AVAILABLE, state)], changes
    first, lost, back = run.changes()
    assert first.ts < lost.ts < back.ts, "the timeline is in order"
    assert abs(lost.ts.timestamp() - unplugged) < SLACK_S, "UNAVAILABLE from the unplugging"
    assert replugged <= back.ts.timestamp() < replugged + 3.0, "back from the reconnection, not before the outage"


async def test_grbl_quiet_machine_is_ready_on_connection_and_after_a_reconnection(tmp_path: Path) -> None:
    sim = GrblSimulator(tmp_path / "ttyGRBL", speed=20.0)
    sim.start()
    try:
        driver = grbl_driver(sim, tmp_path)
        async with agent(tmp_path, "grbl-1", driver, GRBL) as run:
            await unplug_and_replug_a_quiet_machine(run, sim)
    finally:
        sim.stop()


async def test_grbl_run_cut_by_an_unplug_ends_at_the_loss_and_the_outage_is_unavailable(tmp_path: Path) -> None:
    """The run observed against real firmware: a run cut by an unplug, GRBL reset on the replug."""
    sim = GrblSimulator(tmp_path / "ttyGRBL", speed=2.0)
    sim.start()
    try:
        driver = grbl_driver(sim, tmp_path)
        async with agent(tmp_path, "grbl-1", driver, GRBL) as run:
            await wait_for(lambda: driver.state == "Idle")
            reply = await driver.control({"op": "send", "name": "cut.nc", "gcode": long_program()})
            assert reply["ok"], reply
            await run.until(lambda: run.last_is(AVAILABLE, Execution.ACTIVE), "running")
            await asyncio.sleep(1.5)
            unplugged = now().timestamp()
            sim.unplug()
            await asyncio.sleep(2.5)
            replugged = now().timestamp()
            sim.replug()  # the board resets: welcome banner, Idle
            await run.until(lambda: bool(run.cycles()), "the cycle ended")
            await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY after the reconnection")
        (cycle,) = run.cycles()
        assert cycle.outcome is CycleOutcome.ABORTED
        assert abs(cycle.ts.timestamp() - unplugged) < SLACK_S, "the cycle ends at the loss"
        assert 1.5 - SLACK_S < cycle.duration_s < 1.5 + SLACK_S, f"the run before the cut, not {cycle.duration_s} s"
        assert cycle.duration_s == seconds(cycle.started, cycle.ts)
        outage = run.state_at(cycle.ts)
        assert outage is not None
        assert outage.availability is UNAVAILABLE, "from the loss the machine is offline"
        back = [ch for ch in run.changes() if ch.ts.timestamp() >= replugged]
        assert back
        assert back[0].availability is AVAILABLE, "and available again from the reconnection"
        lost = [ch for ch in run.changes() if ch.availability is UNAVAILABLE]
        assert len(lost) == 1
        assert lost[0].ts == cycle.ts, "the cycle ends where the offline time starts"
    finally:
        sim.stop()


class SwitchableHaas(HaasPtySimulator):
    """A Haas behind an RS-232 adapter that stays plugged: switched off, it stops answering."""

    off = False

    def received(self, data: bytes) -> None:
        if not self.off:
            super().received(data)


def haas_driver(port: str) -> HaasDriver:
    options = HAAS.merged_options({"port": port, "poll_interval_s": 0.2, "reply_timeout_s": 0.3, "read_timeout_s": 2.0})
    driver = build("serial", machine_id="haas-1", options=options, profile=HAAS)
    assert isinstance(driver, HaasDriver)
    return driver


async def test_haas_quiet_machine_is_ready_on_connection_and_after_a_reconnection(tmp_path: Path) -> None:
    sim = HaasPtySimulator(HaasMachine(auto=False), tmp_path / "ttyHaas")
    sim.start()
    try:
        async with agent(tmp_path, "haas-1", haas_driver(sim.path), HAAS) as run:
            await unplug_and_replug_a_quiet_machine(run, sim)
    finally:
        sim.stop()


async def test_haas_cycle_cut_by_a_silent_line_ends_when_the_control_was_last_heard(tmp_path: Path) -> None:
    """Switched off mid-cycle: noticed after the 2-s read timeout, yet the cycle and the outage start at the
    last reply; back on, reset (READY, counter unchanged), the cycle is aborted at the loss."""
    machine = HaasMachine(cycle_s=60.0, idle_s=0.2)
    sim = SwitchableHaas(machine, tmp_path / "ttyHaas")
    sim.start()
    try:
        async with agent(tmp_path, "haas-1", haas_driver(sim.path), HAAS) as run:
            await run.until(lambda: run.last_is(AVAILABLE, Execution.ACTIVE), "running")
            await asyncio.sleep(1.0)
            with sim.lock:
                sim.off = True
                switched_off = now().timestamp()
                machine.running, machine.auto = False, False  # reset by the operator once back on
            await run.until(lambda: run.last_is(UNAVAILABLE, None), "UNAVAILABLE after the read timeout", 10)
            noticed = now().timestamp()
            with sim.lock:
                sim.off = False
            switched_on = now().timestamp()
            await run.until(lambda: bool(run.cycles()), "the cycle ended")
            await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY after the reconnection")
        (cycle,) = run.cycles()
        assert noticed - switched_off >= 1.5, "the silence took the read timeout to notice"
        assert cycle.outcome is CycleOutcome.ABORTED
        assert abs(cycle.ts.timestamp() - switched_off) < SLACK_S, "the cycle ends at the last reply, not at the notice"
        (lost,) = [ch for ch in run.changes() if ch.availability is UNAVAILABLE]
        assert lost.ts == cycle.ts
        (back,) = [ch for ch in run.changes() if ch.ts > lost.ts]
        assert back.ts.timestamp() >= switched_on
        assert back.execution is Execution.READY
    finally:
        sim.stop()


def box_driver(path: str) -> LineboxDriver:
    options = BOX.merged_options({"port": path, "read_timeout_s": 2.0})
    driver = build("serial", machine_id="lathe-1", options=options, profile=BOX)
    assert isinstance(driver, LineboxDriver)
    return driver


async def test_line_box_quiet_machine_is_ready_on_connection_and_after_a_reconnection(tmp_path: Path) -> None:
    box = LineboxSimulator(tmp_path / "ttyBox", heartbeat_s=0.2)
    box.start()
    try:
        async with agent(tmp_path, "lathe-1", box_driver(box.path), BOX) as run:
            await unplug_and_replug_a_quiet_machine(run, box)
    finally:
        box.stop()


async def test_line_box_session_cut_by_an_unplug_ends_at_the_loss(tmp_path: Path) -> None:
    box = LineboxSimulator(tmp_path / "ttyBox", heartbeat_s=0.2)
    box.start()
    try:
        async with agent(tmp_path, "lathe-1", box_driver(box.path), BOX) as run:
            await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY on connection")
            box.spindle(True)
            await run.until(lambda: run.last_is(AVAILABLE, Execution.ACTIVE), "spindle on")
            await asyncio.sleep(1.0)
            unplugged = now().timestamp()
            box.unplug()
            box.spindle(False)  # stopped during the outage; the box restarts when plugged again
            await asyncio.sleep(2.0)
            box.replug()
            await run.until(lambda: bool(run.cycles()), "the session ended")
        (session,) = run.cycles()
        assert session.kind is CycleKind.SPINDLE_SESSION
        assert abs(session.ts.timestamp() - unplugged) < SLACK_S, "the session ends at the loss"
        assert 1.0 - SLACK_S < session.duration_s < 1.0 + SLACK_S
        outage = run.state_at(session.ts)
        assert outage is not None
        assert outage.availability is UNAVAILABLE
    finally:
        box.stop()
