"""The simulated workshop of ``atelier demo``: real protocols on loopback and pseudo-terminals.

- ``sinumerik-mill-1``: a SINUMERIK-shaped OPC UA server, read through the sinumerik-840d profile;
- ``umati-mill-4``: an OPC 40501 MachineTool-shaped OPC UA server, through the umati profile;
- ``haas-lathe-2``: a Haas answering Q-commands on a pseudo-terminal (RS-232 framing);
- ``grbl-router-3``: a GRBL on a pseudo-terminal; a student "presses start" now and then, which the
  demo does by sending a program through the running agent (``atelier edge send``);
- ``dmg-mill-5``: the agent's built-in simulator.

The OPC UA controls and the built-in simulator keep their own record of every cycle they made
(``records/{machine}.jsonl`` in the data folder: start, end, program, parts, outcome), the truth
to hold the pages against. ``machines`` runs some of the machines only, and ``pace`` scales every
time of the simulated work (0.1 runs ten times faster): a test replays a morning in a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from atelier.broker import free_port
from atelier.simulators import GrblSimulator, HaasMachine, HaasPtySimulator
from atelier.simulators.opcua_cnc import OpcUaCnc

logger = logging.getLogger(__name__)

GRBL_MACHINE = "grbl-router-3"
# A sign engraved by a small router: pockets at a slow feed, a dwell, and the program end.
ENGRAVING = """\
(ENSEIGNE - demo program)
G21 G90 G17
M3 S12000
G0 X0 Y0 Z5
G1 Z-1 F300
G1 X60 F900
G1 Y30
G1 X0
G1 Y0
G4 P2
G1 X40 Y20 F600
G1 X20 Y10
G0 Z5
M5
M30
"""

MACHINES = ("sinumerik-mill-1", "haas-lathe-2", GRBL_MACHINE, "umati-mill-4", "dmg-mill-5")
# What each machine runs, by the names its control reports: the demo's orders name these programs.
MILL_PROGRAMS = ("BRIDE_A12.MPF", "PLATINE_C3.MPF")
PROGRAMS = {
    "sinumerik-mill-1": MILL_PROGRAMS,
    "haas-lathe-2": ("O1042",),
    GRBL_MACHINE: ("enseigne.nc",),
    "umati-mill-4": MILL_PROGRAMS,
    "dmg-mill-5": MILL_PROGRAMS,
}


def builtin_toml(pace: float, record: Path) -> str:
    """The agent's built-in simulator; its times (the simulator's defaults included) scaled by ``pace``."""
    return f"""
[[machines]]
id = "dmg-mill-5"
driver = "simulator"
[machines.options]
seed = 11
programs = [
  {{ name = "BRIDE_A12.MPF", cycle_s = {round(24.0 * pace, 3)}, parts_per_cycle = 1, tool = "T12" }},
  {{ name = "PLATINE_C3.MPF", cycle_s = {round(38.0 * pace, 3)}, parts_per_cycle = 2, tool = "T4" }},
]
idle_s = {round(6.0 * pace, 3)}
feed_hold_s = {round(4.0 * pace, 3)}
alarm_s = {round(8.0 * pace, 3)}
setup_s = {round(15.0 * pace, 3)}
telemetry_interval_s = {max(round(pace, 3), 0.2)}
feed_hold_chance = 0.15
alarm_chance = 0.05
abort_chance = 0.03
mode_change_chance = 0.05
program_change_every = 6
record_path = "{record}"
"""


def _table(machine: str, driver: str, profile: str, option: str, value: str) -> str:
    return (
        f'\n[[machines]]\nid = "{machine}"\ndriver = "{driver}"\nprofile = "{profile}"\n'
        f'[machines.options]\n{option} = "{value}"\n'
    )


class DemoWorkshop:
    def __init__(self, data_dir: Path, *, machines: Iterable[str] | None = None, pace: float = 1.0) -> None:
        chosen = set(MACHINES if machines is None else machines)
        if unknown := chosen - set(MACHINES):
            raise ValueError(f"no demo machine {', '.join(sorted(unknown))}; the demo has {', '.join(MACHINES)}")
        if not 0.01 <= pace <= 10:
            raise ValueError(f"pace {pace} is outside 0.01 to 10")
        self.machine_ids = [m for m in MACHINES if m in chosen]
        self.data_dir = data_dir
        self.pace = pace
        devices = data_dir / "dev"
        devices.mkdir(parents=True, exist_ok=True)
        self.grbl = GrblSimulator(devices / GRBL_MACHINE, speed=1.0 / pace)
        haas = HaasMachine(program="O1042", cycle_s=16.0 * pace, idle_s=6.0 * pace)
        self.haas = HaasPtySimulator(haas, devices / "haas-lathe-2")
        self.sinumerik = OpcUaCnc(
            free_port(),
            seed=3,
            cycle_s=28.0 * pace,
            idle_s=7.0 * pace,
            shape="sinumerik",
            record_path=self.record_path("sinumerik-mill-1"),
        )
        self.umati = OpcUaCnc(
            free_port(),
            seed=5,
            cycle_s=34.0 * pace,
            idle_s=9.0 * pace,
            shape="machine_tool",
            machine_name="Umati",
            record_path=self.record_path("umati-mill-4"),
        )
        self.program = data_dir / "enseigne.nc"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-opcua", daemon=True)
        self._stop = threading.Event()
        self._starter: threading.Thread | None = None

    def record_path(self, machine: str) -> Path:
        """Where a simulated control writes its record of the cycles it made (OPC UA and built-in ones)."""
        return self.data_dir / "records" / f"{machine}.jsonl"

    def start(self) -> None:
        self.program.write_text(ENGRAVING)
        if GRBL_MACHINE in self.machine_ids:
            self.grbl.start()
        if "haas-lathe-2" in self.machine_ids:
            self.haas.start()
        self._thread.start()
        for server in self._servers():
            asyncio.run_coroutine_threadsafe(server.start(), self._loop).result(timeout=30)

    def _servers(self) -> list[OpcUaCnc]:
        pairs = (("sinumerik-mill-1", self.sinumerik), ("umati-mill-4", self.umati))
        return [server for machine, server in pairs if machine in self.machine_ids]

    def machines_toml(self) -> str:
        tables = {
            "sinumerik-mill-1": _table(
                "sinumerik-mill-1", "opcua", "sinumerik-840d", "endpoint", self.sinumerik.endpoint
            ),
            "haas-lathe-2": _table("haas-lathe-2", "serial", "haas-ngc-q", "port", self.haas.path),
            GRBL_MACHINE: _table(GRBL_MACHINE, "serial", "grbl-1.1", "port", self.grbl.path),
            "umati-mill-4": _table("umati-mill-4", "opcua", "umati-machine-tool", "endpoint", self.umati.endpoint),
            "dmg-mill-5": builtin_toml(self.pace, self.record_path("dmg-mill-5")),
        }
        return "".join(tables[m] for m in self.machine_ids)

    def press_start_now_and_then(self, state_dir: Path, every_s: float = 12.0) -> None:
        """Start the GRBL program whenever the router is free, as a student would."""
        if GRBL_MACHINE not in self.machine_ids:
            return
        every_s *= self.pace
        from edge_agent.drivers.serial.grbl_control import request
        from edge_agent.errors import DriverError

        control = state_dir / "control" / f"{GRBL_MACHINE}.sock"

        def loop() -> None:
            while not self._stop.wait(every_s):
                # Refused while the router is busy or not connected yet: try again later.
                with contextlib.suppress(DriverError, OSError):
                    request(control, {"op": "send", "name": self.program.name, "gcode": ENGRAVING}, timeout_s=5)

        self._starter = threading.Thread(target=loop, name="demo-student", daemon=True)
        self._starter.start()

    def stop(self) -> None:
        self._stop.set()
        for server in self._servers():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(server.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        self.grbl.stop()
        self.haas.stop()
