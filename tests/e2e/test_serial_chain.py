"""A GRBL router and a Haas lathe on pseudo-terminals → edge agent (serial driver) → mosquitto → gateway.

A program goes to the GRBL machine with ``atelier edge send``; the Haas runs
cycles by itself and its part counter steps. Both adapters are unplugged and
plugged back while the agent runs: UNAVAILABLE, then back, nothing doubled.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atelier.simulators import GrblSimulator, HaasMachine, HaasPtySimulator
from harness import Chain

pytestmark = pytest.mark.e2e

DEVICES = ("grbl-1", "haas-1")


@pytest.fixture
def grbl(tmp_path: Path) -> Iterator[GrblSimulator]:
    sim = GrblSimulator(tmp_path / "ttyGRBL", speed=2.0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def haas(tmp_path: Path) -> Iterator[HaasPtySimulator]:
    # Production waits until the agent watches (auto=False): every part is then seen.
    sim = HaasPtySimulator(HaasMachine(cycle_s=0.8, idle_s=0.4, auto=False), tmp_path / "ttyHaas")
    sim.start()
    yield sim
    sim.stop()


def _program(moves: int) -> str:
    body = "\n".join(f"G1 X{(i % 5) * 4} Y{(i * 3) % 7} F600" for i in range(moves))
    return f"%\nG21 G90\nM3 S1000\n{body}\nG4 P0.2\nG0 X0 Y0\nM30\n%\n"


def _rows(chain: Chain, machine: str) -> list[tuple[Any, ...]]:
    return [row for row in chain.cycles() if row[0] == machine]


def _set_auto(haas: HaasPtySimulator, on: bool) -> None:
    with haas.lock:
        haas.machine.auto = on


def _haas_idle(haas: HaasPtySimulator) -> bool:
    with haas.lock:
        return not haas.machine.running


def _send(chain: Chain, job: Path) -> None:
    done = chain.edge_command("send", "grbl-1", str(job))
    assert done.returncode == 0, done.stderr
    assert f"{job.name} started on grbl-1" in done.stdout


def _both(chain: Chain, availability: str) -> bool:
    states = chain.machine_states()
    return all(states.get(m, {}).get("availability") == availability for m in DEVICES)


def test_grbl_job_and_haas_parts_survive_unplugging(
    chain: Chain, grbl: GrblSimulator, haas: HaasPtySimulator, tmp_path: Path
) -> None:
    chain.add_device("grbl-1", "serial", {"port": grbl.path}, profile="grbl-1.1")
    chain.add_device(
        "haas-1",
        "serial",
        {"port": haas.path, "poll_interval_s": 0.1, "reply_timeout_s": 0.3, "read_timeout_s": 2.0},
        profile="haas-ngc-q",
    )
    chain.start()
    chain.wait_for(lambda: _both(chain, "AVAILABLE"), 30, "both machines AVAILABLE")
    _set_auto(haas, True)
    first, second = tmp_path / "bracket.nc", tmp_path / "plate.nc"
    first.write_text(_program(10))
    second.write_text(_program(6))
    _send(chain, first)
    chain.wait_for(lambda: len(_rows(chain, "grbl-1")) == 1, 30, "the streamed program's cycle")
    chain.wait_for(lambda: len(_rows(chain, "haas-1")) >= 2, 20, "Haas cycles")

    # Unplug both adapters with the machines at rest, then plug them back.
    _set_auto(haas, False)
    chain.wait_for(lambda: _haas_idle(haas), 10, "the Haas to finish its cycle")
    grbl.unplug()
    haas.unplug()
    chain.wait_for(lambda: _both(chain, "UNAVAILABLE"), 15, "both machines UNAVAILABLE")
    grbl.replug()
    haas.replug()
    chain.wait_for(lambda: _both(chain, "AVAILABLE"), 15, "both machines back")
    made_before = len(haas.machine.cycles)
    _set_auto(haas, True)
    _send(chain, second)
    chain.wait_for(lambda: len(grbl.cycles) == 2 and grbl.cycles[-1].ended is not None, 30, "the second job")
    chain.wait_for(lambda: len(haas.machine.cycles) >= made_before + 2, 20, "Haas cycles after the replug")
    _set_auto(haas, False)
    chain.wait_for(lambda: _haas_idle(haas), 10, "the Haas to stop")
    chain.wait_for(lambda: len(_rows(chain, "grbl-1")) == 2, 20, "the second job in the gateway")
    chain.wait_for(lambda: len(_rows(chain, "haas-1")) >= len(haas.machine.cycles), 20, "every Haas cycle")
    time.sleep(0.5)  # anything doubled would show now

    assert chain.agent is not None
    assert chain.agent.running
    _check_grbl(chain, grbl)
    _check_haas(chain, haas)


def _check_grbl(chain: Chain, grbl: GrblSimulator) -> None:
    rows = _rows(chain, "grbl-1")
    assert [(row[1], row[5]) for row in rows] == [("bracket.nc", "completed"), ("plate.nc", "completed")]
    assert [c.outcome for c in grbl.cycles] == ["completed", "completed"]
    for row, made in zip(rows, grbl.cycles, strict=True):
        assert row[3] == pytest.approx(made.duration_s, abs=0.6)


def _check_haas(chain: Chain, haas: HaasPtySimulator) -> None:
    rows = _rows(chain, "haas-1")
    made = haas.machine.cycles
    assert len(rows) == len(made), f"{len(rows)} cycles recorded, the Haas made {len(made)}"
    assert not [k for k, n in Counter(row[2] for row in rows).items() if n > 1], "a cycle recorded twice"
    assert all(row[1] == "O01234" and row[5] == "completed" for row in rows)
    for row, (start, end) in zip(rows, made, strict=True):
        # A Haas is seen only by polling: the edges of a cycle are known to one poll round, which
        # (nine Q-commands answered by a Python simulator) takes up to a second on a loaded 2-core CI.
        assert row[3] == pytest.approx(end - start, abs=1.5)
    assert chain.parts().get("haas-1") == haas.machine.parts
