"""The built-in simulated CNC, played in virtual time."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_agent.contract import CycleEnded, CycleOutcome, utc_iso
from edge_agent.drivers import Batch, build
from edge_agent.drivers.simulator.driver import SimulatorDriver, SimulatorOptions
from edge_agent.profiles import Profile
from edge_agent.tracker import MachineTracker
from plumbing.tomlconfig import ConfigError

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
BUSY = {  # every behaviour often, so that a few dozen cycles show them all
    "feed_hold_chance": 0.3,
    "alarm_chance": 0.1,
    "abort_chance": 0.1,
    "mode_change_chance": 0.2,
    "program_change_every": 4,
    "idle_s": 3.0,
    "telemetry_interval_s": 2.0,
}


class TimeUpError(Exception):
    """Virtual time ran past the test's horizon."""


class VirtualClock:
    """Time that moves only when the simulator sleeps, up to a horizon."""

    def __init__(self, horizon_s: float = 30 * 24 * 3600.0) -> None:
        self.now_ts = T0
        self._end = T0 + timedelta(seconds=horizon_s)

    def now(self) -> datetime:
        return self.now_ts

    async def sleep(self, seconds: float) -> None:
        self.now_ts += timedelta(seconds=seconds)
        if self.now_ts > self._end:
            raise TimeUpError
        await asyncio.sleep(0)


def simulator(clock: VirtualClock, **options: Any) -> SimulatorDriver:
    return SimulatorDriver(
        machine_id="sim1", options=SimulatorOptions.model_validate(options), clock=clock.now, sleep=clock.sleep
    )


async def play(driver: SimulatorDriver, limit: int = 100_000) -> list[Batch]:
    """Every batch until virtual time runs out (or ``limit`` batches)."""
    batches: list[Batch] = []
    readings = driver.readings()
    try:
        async with asyncio.timeout(30):
            async for batch in readings:
                batches.append(batch)
                if len(batches) >= limit:
                    break
    except TimeUpError:
        pass
    finally:
        await readings.aclose()
    return batches


def record_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_first_batch_is_the_full_initial_state() -> None:
    batches = await play(simulator(VirtualClock(), seed=1, counter_start=41), limit=1)
    first = {r.key: r.value for r in batches[0]}
    assert {k: first[k] for k in ("availability", "mode", "execution", "program", "tool", "part_count")} == {
        "availability": "AVAILABLE",
        "mode": "AUTOMATIC",
        "execution": "READY",
        "program": "O1001",
        "tool": "T1",
        "part_count": 41,
    }
    assert {r.ts for r in batches[0]} == {T0}


async def test_same_seed_same_sequence() -> None:
    options = {"seed": 7, "cycles": 12, **BUSY}
    first = await play(simulator(VirtualClock(), **options))
    again = await play(simulator(VirtualClock(), **options))
    other = await play(simulator(VirtualClock(), **{**options, "seed": 8}))
    assert len(first) > 100
    assert first == again
    assert first != other


async def test_n_cycles_then_ready_forever(tmp_path: Path) -> None:
    record = tmp_path / "truth.jsonl"
    clock = VirtualClock(horizon_s=48 * 3600.0)
    batches = await play(simulator(clock, seed=3, cycles=3, record_path=record, **BUSY))
    assert len(record_lines(record)) == 3
    last = batches[-1]
    assert {r.key: r.value for r in last}.get("execution") == "READY"
    assert last[0].ts < T0 + timedelta(hours=1)  # then nothing for the remaining 47 hours


async def test_record_matches_what_the_tracker_derives(tmp_path: Path) -> None:
    record = tmp_path / "truth.jsonl"
    driver = simulator(VirtualClock(), seed=11, cycles=60, counter_max=20, counter_start=12, record_path=record, **BUSY)
    tracker = MachineTracker(
        Profile.model_validate({"profile": {"name": "sim", "driver": "simulator"}, "counter_max": 20})
    )
    derived = []
    counters = []
    for batch in await play(driver):
        counters += [r.value for r in batch if r.key == "part_count"]
        derived += [
            {
                "machine": "sim1",
                "program": d.fields["program"],
                "started": utc_iso(d.fields["started"]),
                "ended": utc_iso(d.ts),
                "duration_s": d.fields["duration_s"],
                "held_s": d.fields["held_s"],
                "parts": d.fields["parts"],
                "outcome": d.fields["outcome"].value,
            }
            for d in tracker.feed(batch).drafts
            if d.type is CycleEnded
        ]
    truth = record_lines(record)
    assert derived == truth
    assert len(truth) == 60
    assert set(Counter(line["outcome"] for line in truth)) == {o.value for o in CycleOutcome}
    assert any(line["held_s"] > 0 for line in truth)
    assert len({line["program"] for line in truth}) == 2
    assert any(b < a for a, b in itertools.pairwise(counters))  # the counter rolled over
    assert max(counters) == 20


async def test_without_counter_the_tracker_counts_parts_per_cycle(tmp_path: Path) -> None:
    record = tmp_path / "truth.jsonl"
    programs = [{"name": "P9", "cycle_s": 10, "parts_per_cycle": 3}]
    driver = simulator(VirtualClock(), seed=5, cycles=10, counter=False, programs=programs, record_path=record, **BUSY)
    tracker = MachineTracker(
        Profile.model_validate({"profile": {"name": "s", "driver": "simulator"}, "parts_per_cycle": 3})
    )
    batches = await play(driver)
    assert all(r.key != "part_count" for b in batches for r in b)
    parts = sum(d.fields["count"] for b in batches for d in tracker.feed(b).drafts if d.fields.get("count"))
    assert parts == sum(line["parts"] for line in record_lines(record)) > 0


async def test_cycle_is_recorded_only_after_its_batch_was_taken(tmp_path: Path) -> None:
    record = tmp_path / "truth.jsonl"
    quiet = {"feed_hold_chance": 0, "alarm_chance": 0, "abort_chance": 0, "mode_change_chance": 0}
    readings = simulator(VirtualClock(), seed=2, cycles=1, record_path=record, **quiet).readings()
    try:
        async for batch in readings:
            if any(r.key == "execution" and r.value == "PROGRAM_COMPLETED" for r in batch):
                assert {r.key for r in batch} >= {"execution", "part_count"}  # one change, one batch
                break
        assert not record.exists() or record.read_text() == ""
        await anext(readings)
        assert len(record_lines(record)) == 1
    finally:
        await readings.aclose()


async def test_telemetry_while_cutting_and_zero_when_idle() -> None:
    batches = await play(simulator(VirtualClock(), seed=4, cycles=4, **BUSY))
    execution = None
    cutting_speeds: list[float] = []
    idle_speeds: list[float] = []
    for batch in batches:
        values = {r.key: r.value for r in batch}
        execution = values.get("execution", execution)
        if "spindle_speed" in values:
            (cutting_speeds if execution == "ACTIVE" else idle_speeds).append(values["spindle_speed"])
    assert cutting_speeds
    assert all(1000 < s < 9000 for s in cutting_speeds)
    assert set(idle_speeds) == {0.0}


def test_build_validates_options_and_names_the_key() -> None:
    with pytest.raises(ConfigError) as bad:
        build("simulator", machine_id="mill1", options={"jitter": 2, "sed": 1}, profile=None)
    keys = {p.key for p in bad.value.problems}
    assert keys == {"machines.mill1.options.jitter", "machines.mill1.options.sed"}
    with pytest.raises(ConfigError, match="counter_start"):
        build("simulator", machine_id="mill1", options={"counter_start": 50, "counter_max": 9}, profile=None)


def test_build_takes_profile_defaults_and_counter_max(caplog: pytest.LogCaptureFixture) -> None:
    profile = Profile.model_validate(
        {"profile": {"name": "sim", "driver": "simulator"}, "options": {"seed": 9, "idle_s": 1}, "counter_max": 999}
    )
    driver = build("simulator", machine_id="mill1", options={"idle_s": 2}, profile=profile)
    assert isinstance(driver, SimulatorDriver)
    assert (driver.options.seed, driver.options.idle_s, driver.options.counter_max) == (9, 2.0, 999)
    build("simulator", machine_id="mill1", options={"counter_max": 50}, profile=profile)
    assert "miscounted" in caplog.text
