"""A GRBL router and a Haas lathe on pseudo-terminals → edge agent (serial driver) → mosquitto → gateway.

A program goes to the GRBL machine with ``atelier edge send``; the Haas runs
cycles by itself and its part counter steps. Both adapters are unplugged and
plugged back while the agent runs: UNAVAILABLE, then back, nothing doubled.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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


def _when(value: Any) -> datetime:
    """A time column as read back from SQLite (text) or PostgreSQL (datetime), in UTC."""
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def test_grbl_run_cut_by_an_unplug_is_stored_as_the_run_and_the_outage_as_offline(
    chain: Chain, grbl: GrblSimulator, tmp_path: Path
) -> None:
    """Issue 14: a run cut by an unplug, GRBL reset on the replug. The stored cycle lasts as long as the run
    before the cut (it was stored as the run plus the outage), and the outage is UNAVAILABLE time."""
    chain.add_device("grbl-1", "serial", {"port": grbl.path}, profile="grbl-1.1")
    chain.start()
    chain.wait_for(lambda: chain.availability("grbl-1") == "AVAILABLE", 30, "GRBL AVAILABLE")
    job = tmp_path / "long.nc"
    job.write_text(_program(400))
    _send(chain, job)
    chain.wait_for(lambda: grbl.open_cycle is not None, 10, "the job running")
    time.sleep(2.0)
    cut = time.time()
    grbl.unplug()
    chain.wait_for(lambda: chain.availability("grbl-1") == "UNAVAILABLE", 15, "GRBL UNAVAILABLE")
    time.sleep(3.0)
    replugged = time.time()
    grbl.replug()
    chain.wait_for(lambda: len(_rows(chain, "grbl-1")) == 1, 20, "the cut cycle in the gateway")
    chain.wait_for(lambda: chain.availability("grbl-1") == "AVAILABLE", 15, "GRBL back")

    [row] = _rows(chain, "grbl-1")
    assert row[5] == "aborted"
    started, duration = _when(row[2]), float(row[3])
    assert duration == pytest.approx(cut - started.timestamp(), abs=0.6), "the run before the cut, not the outage"
    ended = started + timedelta(seconds=duration)
    changes = [
        (_when(ts), availability)
        for ts, availability in chain.query(
            "SELECT s.ts, s.availability FROM state_changes s JOIN machines m ON m.id = s.machine_id "
            "WHERE m.name = ? ORDER BY s.ts",
            "grbl-1",
        )
    ]
    outage = [(ts, availability) for ts, availability in changes if ts >= ended - timedelta(milliseconds=1)]
    assert outage[0][1] == "UNAVAILABLE", changes
    assert abs((outage[0][0] - ended).total_seconds()) < 0.01, "offline from where the cycle ended"
    assert outage[1][1] == "AVAILABLE", changes
    assert outage[1][0].timestamp() >= replugged - 0.05, "offline until the reconnection"


class _SwitchableHaas(HaasPtySimulator):
    """A Haas behind an RS-232 adapter that stays plugged: switched off, it stops answering."""

    off = False

    def received(self, data: bytes) -> None:
        if not self.off:
            super().received(data)


def test_haas_switched_off_mid_cycle_is_offline_from_its_last_reply(chain: Chain, tmp_path: Path) -> None:
    """The agent notices a silent line after its read timeout (2 s here); the cycle it cut and the offline time
    start at the last reply, in the real agent (whose drivers are wrapped for its metrics)."""
    machine = HaasMachine(cycle_s=60.0, idle_s=0.3, auto=False)
    haas = _SwitchableHaas(machine, tmp_path / "ttyHaas")
    haas.start()
    try:
        chain.add_device(
            "haas-1",
            "serial",
            {"port": haas.path, "poll_interval_s": 0.2, "reply_timeout_s": 0.3, "read_timeout_s": 2.0},
            profile="haas-ngc-q",
        )
        chain.start()
        chain.wait_for(lambda: chain.availability("haas-1") == "AVAILABLE", 30, "the Haas AVAILABLE")
        _set_auto(haas, True)
        chain.wait_for(lambda: chain.machine_states()["haas-1"].get("execution") == "ACTIVE", 15, "the Haas cutting")
        time.sleep(1.5)
        with haas.lock:
            haas.off = True
            switched_off = time.time()
            machine.running, machine.auto = False, False  # reset at the control before it is switched on again
        chain.wait_for(lambda: chain.availability("haas-1") == "UNAVAILABLE", 15, "the Haas UNAVAILABLE")
        with haas.lock:
            haas.off = False
        chain.wait_for(lambda: len(_rows(chain, "haas-1")) == 1, 20, "the cut cycle in the gateway")
        [row] = _rows(chain, "haas-1")
        assert row[5] == "aborted"
        ended = _when(row[2]) + timedelta(seconds=float(row[3]))
        assert abs(ended.timestamp() - switched_off) < 0.6, "ended at the last reply, not 2 s later"
        [lost] = [
            _when(ts)
            for (ts,) in chain.query(
                "SELECT s.ts FROM state_changes s JOIN machines m ON m.id = s.machine_id "
                "WHERE m.name = ? AND s.availability = 'UNAVAILABLE'",
                "haas-1",
            )
        ]
        assert abs((lost - ended).total_seconds()) < 0.01, "offline from where the cycle ended"
    finally:
        haas.stop()


def test_a_quiet_machine_is_idle_again_when_its_agent_is_back_after_its_last_will(chain: Chain, tmp_path: Path) -> None:
    """The agent frozen longer than its keep-alive: the broker sends its Last Will and the gateway marks the
    machine UNAVAILABLE. The machine stayed idle, so nothing waits in the outbox: the agent states its machines'
    state again when it is back, or the timeline would show the machine offline until something changed."""
    haas = HaasPtySimulator(HaasMachine(auto=False), tmp_path / "ttyHaas")
    haas.start()
    try:
        # A read timeout longer than the freeze: the serial link itself must not be what says READY again.
        options = {"port": haas.path, "poll_interval_s": 0.2, "reply_timeout_s": 0.3, "read_timeout_s": 60.0}
        chain.add_device("haas-1", "serial", options, profile="haas-ngc-q")
        chain.write_configs()
        edge = chain.root / "edge.toml"
        edge.write_text(
            edge.read_text().replace("reconnect_max_s = 1.0\n", "reconnect_max_s = 1.0\nkeepalive_s = 5\n", 1)
        )
        chain.start_gateway()
        chain.start_agent()

        def timeline() -> list[tuple[datetime, str, str | None]]:
            rows = chain.query(
                "SELECT s.ts, s.availability, s.execution FROM state_changes s JOIN machines m "
                "ON m.id = s.machine_id WHERE m.name = ? ORDER BY s.ts, s.id",
                "haas-1",
            )
            return [(_when(ts), availability, execution) for ts, availability, execution in rows]

        # Stored, not only shown live: the premise is that nothing waits in the agent's outbox when it freezes.
        chain.wait_for(lambda: [(a, e) for _, a, e in timeline()] == [("AVAILABLE", "READY")], 30, "the Haas READY")
        assert chain.agent is not None
        assert chain.agent.process is not None
        pid = chain.agent.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            chain.wait_for(lambda: chain.availability("haas-1") == "UNAVAILABLE", 20, "the Last Will")
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed = time.time()

        chain.wait_for(lambda: timeline()[-1][1] == "AVAILABLE", 30, "the machine's state stated again")
        changes = timeline()
        assert [(a, e) for _, a, e in changes] == [
            ("AVAILABLE", "READY"),
            ("UNAVAILABLE", None),
            ("AVAILABLE", "READY"),
        ], changes
        assert changes[-1][0].timestamp() >= resumed - 0.5, "idle from the agent's return"
    finally:
        haas.stop()
