"""The simulated workshop of ``atelier demo``: real protocols on loopback and pseudo-terminals.

- ``sinumerik-mill-1``: a SINUMERIK-shaped OPC UA server, read through the sinumerik-840d profile;
- ``umati-mill-4``: an OPC 40501 MachineTool-shaped OPC UA server, through the umati profile;
- ``haas-lathe-2``: a Haas answering Q-commands on a pseudo-terminal (RS-232 framing);
- ``grbl-router-3``: a GRBL on a pseudo-terminal; a student "presses start" now and then, which the
  demo does by sending a program through the running agent (``atelier edge send``);
- ``dmg-mill-5``: the agent's built-in simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
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

BUILTIN = """
[[machines]]
id = "dmg-mill-5"
driver = "simulator"
[machines.options]
seed = 11
programs = [
  { name = "BRIDE_A12.MPF", cycle_s = 24.0, parts_per_cycle = 1, tool = "T12" },
  { name = "PLATINE_C3.MPF", cycle_s = 38.0, parts_per_cycle = 2, tool = "T4" },
]
idle_s = 6.0
feed_hold_chance = 0.15
alarm_chance = 0.05
abort_chance = 0.03
mode_change_chance = 0.05
program_change_every = 6
"""


class DemoWorkshop:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        devices = data_dir / "dev"
        devices.mkdir(parents=True, exist_ok=True)
        self.grbl = GrblSimulator(devices / GRBL_MACHINE, speed=1.0)
        self.haas = HaasPtySimulator(HaasMachine(program="O1042", cycle_s=16.0, idle_s=6.0), devices / "haas-lathe-2")
        self.sinumerik = OpcUaCnc(free_port(), seed=3, cycle_s=28.0, idle_s=7.0, shape="sinumerik")
        self.umati = OpcUaCnc(free_port(), seed=5, cycle_s=34.0, idle_s=9.0, shape="machine_tool", machine_name="Umati")
        self.program = data_dir / "enseigne.nc"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-opcua", daemon=True)
        self._stop = threading.Event()
        self._starter: threading.Thread | None = None

    def start(self) -> None:
        self.program.write_text(ENGRAVING)
        self.grbl.start()
        self.haas.start()
        self._thread.start()
        for server in (self.sinumerik, self.umati):
            asyncio.run_coroutine_threadsafe(server.start(), self._loop).result(timeout=30)

    def machines_toml(self) -> str:
        return (
            f'\n[[machines]]\nid = "sinumerik-mill-1"\ndriver = "opcua"\nprofile = "sinumerik-840d"\n'
            f'[machines.options]\nendpoint = "{self.sinumerik.endpoint}"\n'
            f'\n[[machines]]\nid = "haas-lathe-2"\ndriver = "serial"\nprofile = "haas-ngc-q"\n'
            f'[machines.options]\nport = "{self.haas.path}"\n'
            f'\n[[machines]]\nid = "{GRBL_MACHINE}"\ndriver = "serial"\nprofile = "grbl-1.1"\n'
            f'[machines.options]\nport = "{self.grbl.path}"\n'
            f'\n[[machines]]\nid = "umati-mill-4"\ndriver = "opcua"\nprofile = "umati-machine-tool"\n'
            f'[machines.options]\nendpoint = "{self.umati.endpoint}"\n' + BUILTIN
        )

    def press_start_now_and_then(self, state_dir: Path, every_s: float = 12.0) -> None:
        """Start the GRBL program whenever the router is free, as a student would."""
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
        for server in (self.sinumerik, self.umati):
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(server.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self.grbl.stop()
        self.haas.stop()

    @property
    def machine_ids(self) -> list[str]:
        return ["sinumerik-mill-1", "haas-lathe-2", GRBL_MACHINE, "umati-mill-4", "dmg-mill-5"]
