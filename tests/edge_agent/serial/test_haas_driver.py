"""The haas-q dialect polling the Haas simulator over a pseudo-terminal (STX/ETB) and over TCP (``>``)."""

from __future__ import annotations

import socket

from atelier.simulators import HaasMachine, HaasPtySimulator, HaasTcpSimulator
from edge_agent import profiles
from edge_agent.contract import CycleEnded, CycleStarted, PartCounted
from edge_agent.drivers import build
from edge_agent.drivers.serial.driver import HaasDriver
from edge_agent.errors import DriverError
from tests.edge_agent.serial.conftest import Collector, track, wait_for

PROFILE = profiles.load("haas-ngc-q")
FAST = {"poll_interval_s": 0.1, "reply_timeout_s": 0.3}


def haas_driver(port: str, **options: object) -> HaasDriver:
    merged = PROFILE.merged_options({"port": port, **FAST, **options})
    driver = build("serial", machine_id="haas-1", options=merged, profile=PROFILE)
    assert isinstance(driver, HaasDriver)
    return driver


async def test_rs232_polling_sees_cycles_through_q500_and_q402(tmp_path, collect):
    machine = HaasMachine(cycle_s=0.6, idle_s=0.3)
    sim = HaasPtySimulator(machine, tmp_path / "ttyHaas")
    sim.start()
    try:
        run = collect(haas_driver(sim.path, macros=[3027]))
        await wait_for(lambda: len(machine.cycles) >= 3 and run.latest("q402_m30_1") == machine.parts, within_s=15)
        assert run.seen("q500_status", "BUSY")
        assert run.seen("q500_status", "IDLE")
        assert run.latest("q104_mode") == "MEM"
        assert run.latest("q600_3027") == 1200.0
        assert sim.requests[:2] == ["Q104", "Q500"]
        drafts = track(PROFILE, run)
        parts = [d for d in drafts if d.type is PartCounted]
        ended = [d.fields for d in drafts if d.type is CycleEnded]
        assert sum(p.fields["count"] for p in parts) == int(run.latest("q402_m30_1")) - _first_parts(run) >= 2
        assert ended
        assert all(e["outcome"] == "completed" and e["program"] == "O01234" for e in ended)
        assert all(0.3 < e["duration_s"] < 1.5 for e in ended)
        assert any(d.type is CycleStarted for d in drafts)
        assert run.driver.counters["noise_bytes"] == 0
    finally:
        sim.stop()


def _first_parts(run: Collector) -> int:
    for batch in run.batches:
        for reading in batch:
            if reading.key == "q402_m30_1":
                return int(reading.value)
    raise AssertionError("no counter read")


async def test_rs232_refusals_foreign_replies_and_noise(tmp_path, collect):
    machine = HaasMachine(auto=False)
    sim = HaasPtySimulator(machine, tmp_path / "ttyHaas")
    sim.start()
    try:
        driver = haas_driver(sim.path, commands=["Q500", "Q402"], macros=[0])
        run = collect(driver)
        await wait_for(lambda: len(run.batches) >= 2)
        sim.inject(b"\x02SERIAL NUMBER, 1234567\x17")  # the other client's answer
        sim.inject(b"\x00\xfe#noise\r\n")
        machine.answer = lambda command: "UNKNOWN" if "Q402" in command else HaasMachine.answer(machine, command)  # type: ignore[method-assign]
        await wait_for(lambda: driver.counters["refused"] >= 3 and driver.counters["foreign"] >= 1)
        assert driver.counters["noise_bytes"] > 0
        assert run.latest("q500_status") == "IDLE"
        assert run.error is None
    finally:
        sim.stop()


async def test_tcp_prompt_framing_with_a_second_client_on_the_control(collect):
    machine = HaasMachine(cycle_s=0.5, idle_s=0.3)
    sim = HaasTcpSimulator(machine)
    sim.start()
    try:
        driver = haas_driver(sim.url)
        run = collect(driver)
        await wait_for(lambda: run.seen("q500_status", "BUSY"))
        with socket.create_connection((sim.host, sim.port)) as other:  # e.g. a DNC program on the same control
            for _ in range(5):
                other.sendall(b"?Q100\r\n")
            await wait_for(lambda: driver.counters["foreign"] >= 3)
        machine.hold()
        await wait_for(lambda: run.latest("q500_status") == "FEED HOLD")
        machine.hold(False)
        machine.alarm()
        await wait_for(lambda: run.latest("q500_alarm") is not None)
        assert run.error is None
        assert all(r.startswith("?Q") for r in sim.requests)
    finally:
        sim.stop()


async def test_control_switched_off_fails_the_driver_and_it_reconnects(collect):
    sim = HaasTcpSimulator(HaasMachine(auto=False))
    sim.start()
    try:
        run = collect(haas_driver(sim.url))
        await wait_for(lambda: len(run.batches) >= 1)
        sim.unplug()
        await wait_for(run.task.done)
        assert isinstance(run.error, DriverError)
        sim.replug()
        again = collect(haas_driver(sim.url))
        await wait_for(lambda: len(again.batches) >= 1)
    finally:
        sim.stop()
