"""``atelier demo``: the whole system on one machine with simulated machines.

Starts a private mosquitto with the shipped broker settings, a gateway on
SQLite in the data folder, and one edge agent serving simulated machines, each
as its own process as they would run in a workshop. Ctrl-C stops them all.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from atelier.broker import Broker, BrokerError, wait_for_port

SITE = "demo"
AGENT = "demo-pc"

# Three machines of a small school workshop, each with its own rhythm.
DEMO_MACHINES = """
[[machines]]
id = "dmg-mill-1"
driver = "simulator"
telemetry_interval_s = 1.0
[machines.options]
seed = 11
programs = [
  {{ name = "BRIDE_A12.MPF", cycle_s = 24.0, parts_per_cycle = 1, tool = "T12" }},
  {{ name = "PLATINE_C3.MPF", cycle_s = 38.0, parts_per_cycle = 2, tool = "T4" }},
]
idle_s = 6.0
feed_hold_chance = 0.15
alarm_chance = 0.05
abort_chance = 0.03
mode_change_chance = 0.05
program_change_every = 6

[[machines]]
id = "haas-lathe-2"
driver = "simulator"
[machines.options]
seed = 22
programs = [
  {{ name = "O1042", cycle_s = 15.0, parts_per_cycle = 1, tool = "T2" }},
  {{ name = "O2210", cycle_s = 21.0, parts_per_cycle = 1, tool = "T5" }},
]
idle_s = 4.0
feed_hold_chance = 0.1
alarm_chance = 0.03
counter_start = 9990
counter_max = 9999

[[machines]]
id = "grbl-router-3"
driver = "simulator"
[machines.options]
seed = 33
programs = [{{ name = "ENSEIGNE.NC", cycle_s = 45.0, parts_per_cycle = 1, tool = "T1" }}]
idle_s = 10.0
feed_hold_chance = 0.2
mode_change_chance = 0.1
"""


def edge_config(data_dir: Path, broker: Broker) -> str:
    return (
        f'[agent]\nid = "{AGENT}"\nsite = "{SITE}"\nstate_dir = "{data_dir / "edge"}"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n' + DEMO_MACHINES.format()
    )


def gateway_config(data_dir: Path, broker: Broker, http_port: int) -> str:
    return (
        f'[gateway]\nid = "demo"\nsite = "{SITE}"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n\n'
        f'[database]\nurl = "sqlite:///{(data_dir / "gateway.sqlite").resolve()}"\n\n'
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n'
    )


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(name: str, args: list[str], logs: Path) -> Child:
    log = logs / f"{name}.log"
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "atelier", *args], stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name, process, log)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_demo(*, port: int, data_dir: Path, seconds: float | None = None) -> int:
    if not port_free(port):
        print(f"Port {port} is already in use. Stop what uses it or choose another: atelier demo --port 8080")
        return 1
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    broker = Broker(data_dir=data_dir / "broker")
    try:
        broker.start()
    except BrokerError as err:
        print(f"Could not start the MQTT broker: {err}")
        return 1
    (data_dir / "edge.toml").write_text(edge_config(data_dir, broker))
    (data_dir / "gateway.toml").write_text(gateway_config(data_dir, broker, port))
    children: list[Child] = []
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        children.append(spawn("gateway", ["gateway", "run", "-c", str(data_dir / "gateway.toml")], logs))
        wait_for_port("127.0.0.1", port, timeout_s=30)
        children.append(spawn("edge", ["edge", "run", "-c", str(data_dir / "edge.toml")], logs))
        _print_banner(port, broker, data_dir, logs)
        return _watch(children, lambda: stopping, seconds)
    except BrokerError:
        print(f"The gateway did not open port {port}; see {logs / 'gateway.log'}")
        return 1
    finally:
        print("Stopping the demo...")
        for child in reversed(children):
            child.stop()
        broker.stop()
        print("Stopped.")


def _watch(children: list[Child], stopping: Callable[[], bool], seconds: float | None) -> int:
    deadline = None if seconds is None else time.monotonic() + seconds
    while not stopping():
        for child in children:
            if child.process.poll() is not None:
                code = child.process.returncode
                print(f"The {child.name} stopped unexpectedly (exit {code}); last lines of {child.log}:")
                print("\n".join(child.log.read_text(errors="replace").splitlines()[-15:]))
                return 1
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return 0


def _print_banner(port: int, broker: Broker, data_dir: Path, logs: Path) -> None:
    print(
        "\nAtelier demo is running.\n"
        f"  Live status page   http://127.0.0.1:{port}/   (English: http://127.0.0.1:{port}/?lang=en)\n"
        f"  Machines API       http://127.0.0.1:{port}/api/machines\n"
        f"  MQTT broker        mqtt://{broker.host}:{broker.port}  (mosquitto, persistence on)\n"
        f"  Edge agent         '{AGENT}' with 3 simulated machines: dmg-mill-1, haas-lathe-2, grbl-router-3\n"
        f"  Data and configs   {data_dir}\n"
        f"  Logs               {logs}\n"
        "Press Ctrl-C to stop everything.\n",
        flush=True,
    )
