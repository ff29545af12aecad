"""Issue 14 item 7 for OPC UA (SINUMERIK and umati profiles), through the agent's pipeline into a real outbox.

A real asyncua server is stopped and started again. A quiet control's values keep the source
time of their last change, from before the outage: the state read on reconnection must still
start at the reconnection, after the UNAVAILABLE that marked the outage, or the timeline would
show the machine offline until something changed. A cycle cut by the outage and found READY
on reconnection ends at the loss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from atelier.simulators.opcua_cnc import OpcUaCnc
from edge_agent import profiles
from edge_agent.contract import Availability, CycleOutcome, Execution
from edge_agent.drivers import build
from edge_agent.drivers.simulator.script import SimulatorScript
from tests.edge_agent.opcua.conftest import FAST
from tests.edge_agent.timeline_probe import agent, now

AVAILABLE, UNAVAILABLE = Availability.AVAILABLE, Availability.UNAVAILABLE
SHAPES = {"sinumerik-840d": "sinumerik", "umati-machine-tool": "machine_tool"}
# The loss is noticed at the next watchdog check (0.3 s here) or when the socket closes.
SLACK_S = 1.0


async def _control(cnc_factory: Callable[..., Awaitable[OpcUaCnc]], name: str) -> tuple[OpcUaCnc, Any]:
    cnc = await cnc_factory(shape=SHAPES[name])
    profile = profiles.load(name)
    driver = build(
        "opcua", machine_id="m1", options=profile.merged_options({"endpoint": cnc.endpoint, **FAST}), profile=profile
    )
    return cnc, (driver, profile)


@pytest.mark.parametrize("name", sorted(SHAPES))
async def test_quiet_control_is_ready_from_each_connection(cnc_factory, tmp_path: Path, name: str) -> None:
    cnc, (driver, profile) = await _control(cnc_factory, name)
    # The control's values changed long before the agent connected: it has been idle all morning.
    initial = next(SimulatorScript(cnc.script).steps()).values
    assert initial["execution"] == "READY"
    await cnc.apply(initial, ts=datetime.now(UTC) - timedelta(hours=3))
    connected = now()
    async with agent(tmp_path, "m1", driver, profile, kind="opcua") as run:
        await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY on connection")
        await asyncio.sleep(0.5)
        stopped = now()
        await cnc.stop(machine_off=True)
        await run.until(lambda: run.last_is(UNAVAILABLE, None), "UNAVAILABLE")
        await asyncio.sleep(1.0)
        restarted = now()
        await cnc.start()
        await run.until(lambda: len(run.changes()) >= 3, "READY again")
        await asyncio.sleep(0.5)
    changes = run.changes()
    assert [(ch.availability, ch.execution) for ch in changes] == [
        (AVAILABLE, Execution.READY),
        (UNAVAILABLE, None),
        (AVAILABLE, Execution.READY),
    ]
    first, lost, back = changes
    assert first.ts >= connected, "the timeline starts when the agent connected, not hours before"
    assert stopped <= lost.ts < stopped + timedelta(seconds=SLACK_S)
    assert back.ts >= restarted, "READY from the reconnection: after the outage, not before it"
    later = run.state_at(restarted + timedelta(seconds=SLACK_S))
    assert later is not None
    assert later.availability is AVAILABLE, "the machine shows idle, not offline"


@pytest.mark.slow  # stops and restarts a real server per case
@pytest.mark.parametrize("name", sorted(SHAPES))
async def test_cycle_cut_by_a_server_stop_and_reset_meanwhile_ends_at_the_loss(
    cnc_factory, tmp_path: Path, name: str
) -> None:
    cnc, (driver, profile) = await _control(cnc_factory, name)
    async with agent(tmp_path, "m1", driver, profile, kind="opcua") as run:
        await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY on connection")
        await cnc.apply({"execution": "ACTIVE"})
        await run.until(lambda: run.last_is(AVAILABLE, Execution.ACTIVE), "running")
        await asyncio.sleep(1.0)
        stopped = now()
        await cnc.stop()
        await run.until(lambda: run.last_is(UNAVAILABLE, None), "UNAVAILABLE")
        await asyncio.sleep(0.5)
        await cnc.apply({"execution": "READY"})  # reset at the control while the network was down
        await asyncio.sleep(1.0)
        restarted = now()
        await cnc.start()
        await run.until(lambda: bool(run.cycles()), "the cycle ended")
        await run.until(lambda: run.last_is(AVAILABLE, Execution.READY), "READY after the reconnection")
    (cycle,) = run.cycles()
    assert cycle.outcome is CycleOutcome.ABORTED
    assert stopped <= cycle.ts < stopped + timedelta(seconds=SLACK_S), "the cycle ends at the loss"
    assert cycle.duration_s < 1.0 + SLACK_S, f"the run before the cut, not {cycle.duration_s} s"
    (lost,) = [ch for ch in run.changes() if ch.availability is UNAVAILABLE]
    assert lost.ts == cycle.ts, "the cycle ends where the offline time starts"
    (back,) = [ch for ch in run.changes() if ch.ts > lost.ts]
    assert back.ts >= restarted
