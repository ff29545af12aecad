"""The linebox dialect on a pseudo-terminal: spindle sessions, part button, noise, unplugging."""

from __future__ import annotations

from atelier.simulators import LineboxSimulator
from edge_agent import profiles
from edge_agent.contract import CycleEnded, PartCounted
from edge_agent.drivers import build
from edge_agent.drivers.serial.driver import LineboxDriver
from edge_agent.errors import DriverError
from tests.edge_agent.serial.conftest import track, wait_for

PROFILE = profiles.load("linebox-lathe")


def box_driver(path: str) -> LineboxDriver:
    driver = build("serial", machine_id="lathe-1", options=PROFILE.merged_options({"port": path}), profile=PROFILE)
    assert isinstance(driver, LineboxDriver)
    return driver


async def test_spindle_sessions_and_parts(tmp_path, collect):
    box = LineboxSimulator(tmp_path / "ttyBox", heartbeat_s=0.1)
    box.start()
    try:
        driver = box_driver(box.path)
        run = collect(driver)
        await wait_for(lambda: len(run.batches) >= 2)
        for _ in range(2):
            box.spindle(True)
            await wait_for(lambda: run.latest("spindle") == "on")
            box.door(True)
            box.spindle(False)
            box.press_part()
            await wait_for(lambda: run.latest("spindle") == "off")
            box.door(False)
        box.inject(b"\xff\xfegarbage=\x01\r\nspindle=7\r\n")
        await wait_for(lambda: run.latest("parts") == 2 and driver.counters["noise_lines"] >= 2)
        assert run.seen("door", "open")
        drafts = track(PROFILE, run)
        sessions = [d.fields for d in drafts if d.type is CycleEnded]
        assert [s["kind"] for s in sessions] == ["spindle_session", "spindle_session"]
        assert sum(d.fields["count"] for d in drafts if d.type is PartCounted) == 2
    finally:
        box.stop()


async def test_unplugged_box_fails_and_replugged_box_resumes_with_hello(tmp_path, collect):
    box = LineboxSimulator(tmp_path / "ttyBox", heartbeat_s=0.1)
    box.start()
    try:
        run = collect(box_driver(box.path))
        await wait_for(lambda: len(run.batches) >= 1)
        box.unplug()
        await wait_for(run.task.done)
        assert isinstance(run.error, DriverError)
        box.replug()
        again = collect(box_driver(box.path))
        await wait_for(lambda: again.latest("current") is not None)
    finally:
        box.stop()
