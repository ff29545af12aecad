"""One machine's pipeline on a real outbox: the real simulator end to end, then link and disk failures.

Failures are injected with ``ScriptedDriver``, a small fake driver written here: the simulator has
no way to drop its link on demand, and a driver is only an async iterator of batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_agent import contract as c
from edge_agent.config import MachineConfig
from edge_agent.drivers import Batch, Reading
from edge_agent.errors import DriverError
from edge_agent.outbox import Outbox
from edge_agent.pipeline import Backoff, build_driver, load_profile, run_machine
from tests.edge_agent.mqtt_probe import eventually

FAST = Backoff(first_s=0.05, max_s=0.2, healthy_s=60)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

FAST_SIMULATOR: dict[str, Any] = {
    "seed": 3,
    "programs": [{"name": "O10", "cycle_s": 0.15, "parts_per_cycle": 2}],
    "idle_s": 0.02,
    "setup_s": 0.02,
    "feed_hold_s": 0.02,
    "alarm_s": 0.02,
    "telemetry_interval_s": 0.01,
    "jitter": 0.0,
    "cycles": 4,
}


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(
        tmp_path / "outbox.sqlite", agent="pc-1", site="lyon", event_budget=1000, telemetry_budget=1000, retention_s=60
    )
    yield box
    box.close()


def decoded(outbox: Outbox) -> list[c.Message]:
    return [c.decode(item.topic, item.payload)[1] for item in outbox.pending(10_000)]


class ScriptedDriver:
    """Plays ``links``: each call of ``readings()`` yields that link's batches, then fails with its error."""

    def __init__(self, links: list[tuple[list[Batch], Exception | None]]) -> None:
        self.links = links
        self.connects: list[float] = []

    async def readings(self) -> AsyncIterator[Batch]:
        self.connects.append(time.monotonic())
        batches, error = self.links[min(len(self.connects), len(self.links)) - 1]
        for batch in batches:
            yield batch
            await asyncio.sleep(0)
        if error is not None:
            raise error
        await asyncio.Event().wait()  # a healthy link that stays quiet


def running(t: float) -> Batch:
    ts = T0 + timedelta(seconds=t)
    return [Reading("execution", "ACTIVE", ts), Reading("mode", "AUTOMATIC", ts), Reading("program", "O7", ts)]


async def run_for(coro: Any, until: Any, what: str) -> None:
    task = asyncio.create_task(coro)
    try:
        await eventually(until, 15, what)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_simulated_machine_fills_the_outbox(outbox: Outbox) -> None:
    machine = MachineConfig(id="mill-1", driver="simulator", telemetry_interval_s=0.1, options=FAST_SIMULATOR)
    wakes: list[int] = []
    started = time.monotonic()

    def ended() -> bool:
        return sum(isinstance(m, c.CycleEnded) for m in decoded(outbox)) == 4

    await run_for(
        run_machine(machine, profile=None, outbox=outbox, wake=lambda: wakes.append(1), backoff=FAST), ended, "4 cycles"
    )
    elapsed = time.monotonic() - started
    messages = decoded(outbox)
    sequenced = [m for m in messages if isinstance(m, c.SequencedMessage)]
    assert [m.seq for m in sequenced] == list(range(1, len(sequenced) + 1))
    assert isinstance(sequenced[0], c.StateChanged)
    assert sequenced[0].availability is c.Availability.AVAILABLE
    ends = [m for m in sequenced if isinstance(m, c.CycleEnded)]
    assert all((e.program, e.parts) == ("O10", 2) for e in ends if e.outcome is c.CycleOutcome.COMPLETED)
    assert any(isinstance(m, c.StateMessage) for m in sequenced)
    samples = [m for m in messages if isinstance(m, c.Telemetry)]
    assert samples, "the simulator reports spindle speed while cutting"
    assert len(samples) <= elapsed / 0.1 + 1, "at most one sample per telemetry interval"
    assert wakes, "the publisher is woken after each store"


async def test_driver_failure_marks_unavailable_and_reconnects_with_backoff(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    lost = DriverError("serial port /dev/ttyUSB0 closed")
    driver = ScriptedDriver([([running(0)], lost), ([], lost), ([], OSError("no route")), ([], TimeoutError())])
    machine = MachineConfig(id="mill-1", driver="scripted")
    with caplog.at_level(logging.WARNING, logger="edge_agent.pipeline"):
        await run_for(
            run_machine(machine, profile=None, outbox=outbox, wake=lambda: None, driver=driver, backoff=FAST),
            lambda: len(driver.connects) >= 5,
            "5 connection attempts",
        )
    gaps = [b - a for a, b in zip(driver.connects, driver.connects[1:], strict=False)]
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1
    assert min(gaps[2:4]) >= 0.19, "the wait doubles up to max_s"
    changes = [m for m in decoded(outbox) if isinstance(m, c.StateChanged)]
    assert [m.availability for m in changes] == [c.Availability.AVAILABLE, c.Availability.UNAVAILABLE]
    lines = [r.getMessage() for r in caplog.records]
    assert "closed" in lines[0]
    assert "reconnecting in 0.05 s" in lines[0]
    assert any("timed out" in line for line in lines)
    assert all(r.exc_info is None for r in caplog.records), "one line per failure, no traceback"


async def test_full_disk_keeps_events_in_memory_until_they_can_be_stored(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    driver = ScriptedDriver([([running(0)], None)])
    machine = MachineConfig(id="mill-1", driver="scripted")
    # SQLite's page limit produces the same SQLITE_FULL error a full disk does.
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")
    big = [c.Alarm(code=f"E{n}", message="x" * 500) for n in range(60)]
    alarms = [*running(0), Reading("alarms", [a.model_dump() for a in big], T0)]
    driver.links = [([alarms], None)]
    with caplog.at_level(logging.ERROR, logger="edge_agent.pipeline"):
        task = asyncio.create_task(
            run_machine(machine, profile=None, outbox=outbox, wake=lambda: None, driver=driver, backoff=FAST)
        )
        await eventually(lambda: any("retrying" in r.getMessage() for r in caplog.records), what="a storage error")
        assert outbox.stats().unsent_events == 0
        outbox._db.execute("PRAGMA max_page_count = 1000000")
        await eventually(lambda: outbox.stats().unsent_events > 60, what="events stored after the disk has room")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    raised = [m for m in decoded(outbox) if isinstance(m, c.AlarmRaised)]
    assert len(raised) == 60


def test_profile_options_reach_the_driver(tmp_path: Path) -> None:
    (tmp_path / "fast-sim.toml").write_text(
        '[profile]\nname = "Fast simulator"\ndriver = "simulator"\n[options]\nseed = 9\nidle_s = 0.5\n'
    )
    machine = MachineConfig(id="mill-1", driver="simulator", profile="fast-sim", options={"idle_s": 0.25})
    profile = load_profile(machine, tmp_path)
    assert profile is not None
    driver = build_driver(machine, profile)
    assert (driver.options.seed, driver.options.idle_s) == (9, 0.25)  # type: ignore[attr-defined]
    assert load_profile(MachineConfig(id="lathe-2", driver="simulator"), tmp_path) is None


def test_serial_drivers_get_the_agent_state_dir(tmp_path: Path) -> None:
    grbl = MachineConfig(id="router", driver="serial", options={"dialect": "grbl", "port": "/dev/ttyUSB0"})
    driver = build_driver(grbl, None, tmp_path)
    assert driver.options.socket_path("router") == tmp_path / "control" / "router.sock"  # type: ignore[attr-defined]
    # Dialects without a control socket must not refuse it (their options forbid unknown keys).
    haas = MachineConfig(id="lathe", driver="serial", options={"dialect": "haas-q", "port": "/dev/ttyUSB1"})
    assert type(build_driver(haas, None, tmp_path)).__name__ == "HaasDriver"


class PacedDriver:
    """Yields ``(pause_s, batch)`` pairs, then stays quiet."""

    def __init__(self, script: list[tuple[float, Batch]]) -> None:
        self.script = script

    async def readings(self) -> AsyncIterator[Batch]:
        for pause, batch in self.script:
            await asyncio.sleep(pause)
            yield batch
        await asyncio.Event().wait()


async def test_telemetry_is_sampled_once_per_interval_with_latest_values(outbox: Outbox) -> None:
    def sample(**values: float) -> Batch:
        return [Reading(key, value, T0) for key, value in values.items()]

    script = [
        (0, sample(spindle_speed=100.0)),
        (0, sample(feed_rate=50.0)),
        (0, sample(spindle_speed=200.0)),
        (1.1, sample(spindle_speed=300.0)),
    ]
    machine = MachineConfig(id="mill-1", driver="paced", telemetry_interval_s=1.0)

    def samples() -> list[c.Telemetry]:
        return [m for m in decoded(outbox) if isinstance(m, c.Telemetry)]

    driver = PacedDriver(script)
    await run_for(
        run_machine(machine, profile=None, outbox=outbox, wake=lambda: None, driver=driver, backoff=FAST),
        lambda: len(samples()) == 2,
        "two samples",
    )
    first, second = samples()
    assert (first.seq, first.spindle_speed, first.feed_rate) == (1, 100.0, None)
    assert (second.seq, second.spindle_speed, second.feed_rate) == (2, 300.0, 50.0)
