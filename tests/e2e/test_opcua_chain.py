"""A SINUMERIK-shaped OPC UA control → edge agent (opcua driver, sinumerik profile) → mosquitto → gateway.

The control restarts twice while the agent runs: once the same server on the same
endpoint, once a brand-new server (new sessions). The agent must reconnect by
itself, show the machine UNAVAILABLE meanwhile, and record every cycle once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.broker import free_port
from edge_agent.certs import generate_certificate
from edge_agent.drivers.simulator.script import ProgramSpec, SimulatorOptions
from harness import Chain, sim_options
from tests.e2e.devices import LoopThread, RestartableCnc
from tests.e2e.test_chain import check_exactly_once, check_parts

pytestmark = pytest.mark.e2e

OUTAGE_S = 10.0
# Fast enough to notice a dead server within a second on a loaded 2-core machine.
FAST = {
    "publishing_interval_ms": 50,
    "sampling_interval_ms": 0,
    "keepalive_count": 5,
    "watchdog_interval_s": 0.5,
    "request_timeout_s": 2.0,
    "connect_timeout_s": 3.0,
}


@pytest.fixture
def sim_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


def _script(cycles: int) -> SimulatorOptions:
    # A long idle between short cycles leaves room to stop the server while the machine waits.
    return SimulatorOptions(
        seed=7,
        programs=(ProgramSpec(name="BRIDE_A12.MPF", cycle_s=0.6, parts_per_cycle=2, tool="T12"),),
        idle_s=1.6,
        jitter=0.1,
        cycles=cycles,
        feed_hold_chance=0.0,
        alarm_chance=0.0,
        abort_chance=0.0,
        mode_change_chance=0.0,
        telemetry_interval_s=0.2,
    )


def _wait_availability(chain: Chain, machine: str, expected: str, timeout_s: float) -> None:
    chain.wait_for(lambda: chain.availability(machine) == expected, timeout_s, f"{machine} {expected}")


def _outage(chain: Chain, sim_loop: LoopThread, cnc: RestartableCnc, *, fresh: bool) -> None:
    """Switch the control off between two cycles for OUTAGE_S, then bring it back and production on."""
    made = len(chain.records("cnc-1"))
    chain.wait_for(lambda: len(chain.records("cnc-1")) > made, 15, "the next cycle to end")
    time.sleep(0.4)  # the cycle's last notification goes out; the machine idles for 1.4 s or more
    stopped = time.monotonic()
    sim_loop.run(cnc.stop(machine_off=True))
    _wait_availability(chain, "cnc-1", "UNAVAILABLE", 8)
    while time.monotonic() - stopped < OUTAGE_S:
        assert chain.availability("cnc-1") == "UNAVAILABLE"
        time.sleep(0.5)
    sim_loop.run(cnc.serve(fresh=fresh))
    _wait_availability(chain, "cnc-1", "AVAILABLE", 15)
    sim_loop.run(cnc.switch_on())


def test_server_restarts_on_the_same_endpoint_and_as_a_new_server_lose_and_double_nothing(
    chain: Chain, sim_loop: LoopThread
) -> None:
    cycles = 6
    port = free_port()
    cnc = RestartableCnc(
        port, shape="sinumerik", script=_script(cycles), record_path=chain.record_path("cnc-1"), machine_name="cnc-1"
    )
    sim_loop.run(cnc.serve())
    try:
        chain.add_device("cnc-1", "opcua", {"endpoint": cnc.endpoint, **FAST}, profile="sinumerik-840d")
        chain.start()
        _wait_availability(chain, "cnc-1", "AVAILABLE", 30)
        sim_loop.run(cnc.switch_on())

        _outage(chain, sim_loop, cnc, fresh=False)
        _outage(chain, sim_loop, cnc, fresh=True)

        chain.wait_for(lambda: len(chain.records("cnc-1")) >= cycles, 30, f"the control to make {cycles} cycles")
        chain.wait_for(lambda: len(chain.cycles()) >= cycles, 20, f"{cycles} cycles in the gateway")
        time.sleep(0.5)  # anything doubled would show now
        assert check_exactly_once(chain) == cycles
        check_parts(chain)
        assert {row[1] for row in chain.cycles()} == {"BRIDE_A12.MPF"}
        assert chain.agent is not None
        assert chain.agent.running
    finally:
        sim_loop.run(cnc.close())


def test_untrusted_server_certificate_is_refused_and_the_agent_runs_on(
    chain: Chain, sim_loop: LoopThread, tmp_path: Path
) -> None:
    server_cert, server_key = generate_certificate(
        tmp_path / "pki" / "server", application_uri="urn:atelier:sim", common_name="sim", days=2, server=True
    )
    client_cert, client_key = generate_certificate(
        tmp_path / "pki" / "client", application_uri="urn:atelier:e2e", common_name="e2e", days=2
    )
    cnc = RestartableCnc(free_port(), shape="sinumerik", certificate=server_cert, private_key=server_key)
    sim_loop.run(cnc.serve())
    trusted = tmp_path / "pki" / "trusted"
    security = {
        "mode": "SignAndEncrypt",
        "policy": "Basic256Sha256",
        "certificate": str(client_cert),
        "private_key": str(client_key),
        "trust_dir": str(trusted),
    }
    try:
        chain.add_machine("sim-1", sim_options(1, cycles=3))
        chain.add_device(
            "cnc-locked", "opcua", {"endpoint": cnc.endpoint, "security": security, **FAST}, profile="sinumerik-840d"
        )
        chain.start()
        chain.wait_for(lambda: len(chain.cycles()) >= 3, 40, "the other machine's cycles")
        assert chain.agent is not None
        log = chain.agent.log
        chain.wait_for(lambda: "is not trusted" in log.read_text(), 10, "the refusal in the agent's log")
        refusal = next(line for line in log.read_text().splitlines() if "is not trusted" in line)
        assert "cnc-locked" in refusal
        assert str(trusted) in refusal
        assert "Traceback" not in log.read_text()
        assert list((trusted / "rejected").glob("*.der")), "the refused certificate is kept for review"
        assert chain.availability("cnc-locked") == "UNAVAILABLE"
        assert chain.agent.running
    finally:
        sim_loop.run(cnc.close())
