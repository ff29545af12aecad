"""The GRBL dialect against the GRBL simulator on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from atelier.simulators import GrblSimulator
from edge_agent import profiles
from edge_agent.contract import CycleEnded, CycleStarted
from edge_agent.drafts import Draft
from edge_agent.drivers import build
from edge_agent.drivers.serial.grbl_driver import GrblDriver
from edge_agent.drivers.serial.grbl_stream import RX_BUFFER, Outcome
from edge_agent.errors import DriverError
from plumbing.tomlconfig import ConfigError
from tests.edge_agent.serial.conftest import Collector, track, wait_for

PROFILE = profiles.load("grbl-1.1")


class MuteGrbl(GrblSimulator):
    """A machine switched off behind a USB adapter that stays plugged: the port opens, nothing answers."""

    def received(self, data: bytes) -> None:
        pass


def program(moves: int, *, extra: str = "") -> str:
    body = "\n".join(f"G1 X{(i % 5) * 4} Y{(i * 3) % 7} F600 (move {i})" for i in range(moves))
    return f"%\nG21 G90\nM3 S1000\n{body}\n{extra}G4 P0.3\nG0 X0 Y0\nM30\n%\n"


def driver_for(sim: GrblSimulator, tmp_path: Path, **options: object) -> GrblDriver:
    merged = PROFILE.merged_options({"port": sim.path, "state_dir": str(tmp_path / "state"), **options})
    driver = build("serial", machine_id="grbl-1", options=merged, profile=PROFILE)
    assert isinstance(driver, GrblDriver)
    return driver


def cycle_events(*runs: Collector) -> list[Draft]:
    return [d for d in track(PROFILE, *runs) if d.type in (CycleStarted, CycleEnded)]


async def start_job(driver: GrblDriver, name: str, gcode: str) -> None:
    await wait_for(lambda: driver.state == "Idle")
    reply = await driver.control({"op": "send", "name": name, "gcode": gcode})
    assert reply["ok"], reply


async def test_job_with_hold_and_resume_is_one_completed_cycle(grbl_sim, tmp_path, collect):
    driver = driver_for(grbl_sim, tmp_path)
    run = collect(driver)
    await start_job(driver, "bracket.nc", program(40))
    await wait_for(lambda: grbl_sim.open_cycle is not None and driver.state == "Run")
    assert (await driver.control({"op": "hold"}))["ok"]
    await wait_for(lambda: driver.state == "Hold")
    await asyncio.sleep(0.4)
    assert (await driver.control({"op": "resume"}))["ok"]
    await wait_for(lambda: driver.last_job is not None, within_s=20)

    job = driver.last_job
    assert job is not None
    assert job.outcome is Outcome.COMPLETED
    assert job.streamer.acked == job.total == 45
    assert 100 < job.streamer.peak_in_flight <= RX_BUFFER  # character counting, never over 127
    assert grbl_sim.overflows == 0
    assert grbl_sim.rx_peak <= RX_BUFFER
    assert [c.outcome for c in grbl_sim.cycles] == ["completed"]
    events = cycle_events(run)
    assert [e.type for e in events] == [CycleStarted, CycleEnded]
    ended = events[1].fields
    assert (ended["program"], ended["outcome"]) == ("bracket.nc", "completed")
    assert ended["held_s"] >= 0.3
    assert abs(ended["duration_s"] - grbl_sim.cycles[0].duration_s) < 0.6
    assert run.latest("job_line") == 45


async def test_error_stops_the_job_with_feed_hold_and_reset(grbl_sim, tmp_path, collect):
    driver = driver_for(grbl_sim, tmp_path)
    run = collect(driver)
    gcode = program(45).replace("(move 35)", "\nG99 (not a GRBL code)")
    await start_job(driver, "bad.nc", gcode)
    await wait_for(lambda: driver.last_job is not None)
    job = driver.last_job
    assert job is not None
    assert job.outcome is Outcome.ERROR
    assert "error:20" in job.detail
    await wait_for(lambda: run.seen("reset", True))  # the banner after the soft reset
    assert "M30" not in grbl_sim.lines_received  # nothing sent after the error reached GRBL's buffer
    assert [c.outcome for c in grbl_sim.cycles] == ["aborted"]
    await wait_for(lambda: driver.state == "Idle")
    events = cycle_events(run)
    assert [(e.type, e.fields.get("outcome")) for e in events] == [(CycleStarted, None), (CycleEnded, "aborted")]


async def test_alarm_ends_the_job_as_an_alarm_cycle(grbl_sim, tmp_path, collect):
    driver = driver_for(grbl_sim, tmp_path)
    run = collect(driver)
    await start_job(driver, "limit.nc", program(40))
    await wait_for(lambda: grbl_sim.open_cycle is not None and driver.state == "Run")
    grbl_sim.trigger_alarm(1)
    await wait_for(lambda: driver.last_job is not None and driver.state == "Alarm")
    assert driver.last_job is not None
    assert driver.last_job.outcome is Outcome.ALARM
    events = cycle_events(run)
    assert [(e.type, e.fields.get("outcome")) for e in events] == [(CycleStarted, None), (CycleEnded, "alarm")]
    reply = await driver.control({"op": "send", "name": "again.nc", "gcode": "G0 X1"})
    assert not reply["ok"]
    assert "Alarm" in reply["error"]


async def test_stop_on_request(grbl_sim, tmp_path, collect):
    driver = driver_for(grbl_sim, tmp_path)
    collect(driver)
    await start_job(driver, "long.nc", program(60))
    busy = await driver.control({"op": "send", "name": "other.nc", "gcode": "G0 X1"})
    assert not busy["ok"]
    assert "busy" in busy["error"]
    await wait_for(lambda: driver.state == "Run")
    assert (await driver.control({"op": "stop"}))["ok"]
    await wait_for(lambda: driver.last_job is not None)
    assert driver.last_job is not None
    assert driver.last_job.outcome is Outcome.STOPPED
    await wait_for(lambda: driver.state == "Idle")  # held first, so the reset raised no alarm
    assert [c.outcome for c in grbl_sim.cycles] == ["aborted"]


async def test_unplug_mid_job_fails_the_driver_and_a_new_one_resumes(grbl_sim, tmp_path, collect):
    driver = driver_for(grbl_sim, tmp_path)
    run = collect(driver)
    await start_job(driver, "cut.nc", program(60))
    await wait_for(lambda: driver.state == "Run")
    grbl_sim.unplug()
    await wait_for(run.task.done)
    assert isinstance(run.error, DriverError)
    assert driver.last_job is not None
    assert driver.last_job.outcome is Outcome.RESET
    assert not (tmp_path / "state" / "control" / "grbl-1.sock").exists()

    grbl_sim.replug()
    again = driver  # run_machine reopens the same driver instance
    rerun = collect(again)
    await wait_for(lambda: again.state == "Idle")
    events = cycle_events(run, rerun)
    assert [(e.type, e.fields.get("outcome")) for e in events] == [(CycleStarted, None), (CycleEnded, "aborted")]


async def test_garbage_on_the_line_is_counted_and_ignored(grbl_sim, tmp_path, collect):
    driver = driver_for(grbl_sim, tmp_path)
    run = collect(driver)
    await wait_for(lambda: driver.state == "Idle")
    with grbl_sim.lock:
        grbl_sim.send(b"\xff\xfe\x00<Idle|MPos:0,0\r\nGr\x8abl\r\n" + b"\x55" * 400 + b"\r\n<Bogus|MPos:0,0,0>\r\n")
    await wait_for(lambda: driver.counters["noise_lines"] >= 2 and driver.counters["dropped_lines"] >= 1)
    polls = len(run.batches)
    await wait_for(lambda: len(run.batches) > polls + 2)
    assert run.error is None


async def test_a_silent_port_fails_the_driver(tmp_path, collect):
    sim = MuteGrbl(tmp_path / "tty")
    sim.start()
    try:
        driver = driver_for(sim, tmp_path, read_timeout_s=0.5)
        run = collect(driver)
        await wait_for(run.task.done)
        assert isinstance(run.error, DriverError)
        assert "silent" in str(run.error)
    finally:
        sim.stop()


async def test_a_missing_port_is_a_driver_error(tmp_path):
    driver = build("serial", machine_id="g", options={"dialect": "grbl", "port": str(tmp_path / "none")}, profile=None)
    with pytest.raises(DriverError, match="cannot open"):
        async for _ in driver.readings():
            pass


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"dialect": "grbl", "port": "/dev/x", "poll_interval_s": 0.05}, "options.poll_interval_s"),
        ({"dialect": "grbl", "port": "/dev/x", "parity": "maybe"}, "options.parity"),
        ({"dialect": "grbl", "port": "/dev/x", "baud": 9600}, "options.baud"),
        ({"dialect": "fanuc", "port": "/dev/x"}, "options.dialect"),
        ({"port": "/dev/x"}, "options.dialect"),
        ({"dialect": "haas-q", "port": "/dev/x", "commands": ["Q999"]}, "options.commands"),
        ({"dialect": "linebox"}, "options"),
        ({"dialect": "grbl", "port": "/dev/x", "control_socket": "/" + "x" * 120}, "options.control_socket"),
    ],
)
def test_bad_options_are_config_errors_naming_the_key(options, key):
    with pytest.raises(ConfigError) as caught:
        build("serial", machine_id="m1", options=options, profile=None)
    assert caught.value.problems[0].key == key
