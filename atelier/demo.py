"""``atelier demo``: the whole system on one machine with simulated machines.

Starts a private mosquitto with the shipped broker settings, a gateway on
SQLite in the data folder, and one edge agent serving simulated machines, each
as its own process as they would run in a workshop. Ctrl-C stops them all.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from atelier.broker import Broker, BrokerError, end_process, wait_for_port
from atelier.demo_machines import DemoWorkshop
from gateway.config import SCHOOL_ZONE

SITE = "demo"
AGENT = "demo-pc"


def edge_config(data_dir: Path, broker: Broker, workshop: DemoWorkshop) -> str:
    return (
        f'[agent]\nid = "{AGENT}"\nsite = "{SITE}"\nstate_dir = "{data_dir / "edge"}"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n' + workshop.machines_toml()
    )


def gateway_config(data_dir: Path, broker: Broker, http_port: int) -> str:
    return (
        f'[gateway]\nid = "demo"\nsite = "{SITE}"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n\n'
        f'[database]\nurl = "sqlite:///{(data_dir / "gateway.sqlite").resolve()}"\n\n'
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n\n'
        f'[records]\ntimezone = "{SCHOOL_ZONE}"\n'
    )


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout_s: float = 15.0) -> None:
        end_process(self.process, signal.SIGTERM, timeout_s)


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
    # The simulated controls are asyncua servers; their security notices are not the demo's news.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    workshop = DemoWorkshop(data_dir)
    try:
        workshop.start()
    except Exception as err:  # a simulator that cannot start is reported, never a traceback
        print(f"Could not start the simulated machines: {err}")
        broker.stop()
        return 1
    (data_dir / "edge.toml").write_text(edge_config(data_dir, broker, workshop))
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
        workshop.press_start_now_and_then(data_dir / "edge")
        _print_banner(port, broker, data_dir, logs, workshop.machine_ids)
        return _watch(children, lambda: stopping, seconds)
    except BrokerError:
        print(f"The gateway did not open port {port}; see {logs / 'gateway.log'}")
        return 1
    finally:
        print("Stopping the demo...")
        for child in reversed(children):
            child.stop()
        workshop.stop()
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


def _print_banner(port: int, broker: Broker, data_dir: Path, logs: Path, machines: list[str]) -> None:
    print(
        "\nAtelier demo is running.\n"
        f"  Live status page   http://127.0.0.1:{port}/   (English: http://127.0.0.1:{port}/?lang=en)\n"
        f"  Machines API       http://127.0.0.1:{port}/api/machines\n"
        f"  MQTT broker        mqtt://{broker.host}:{broker.port}  (mosquitto, persistence on)\n"
        f"  Edge agent         '{AGENT}' with {len(machines)} simulated machines: {', '.join(machines)}\n"
        "                     (OPC UA SINUMERIK and umati servers, a Haas and a GRBL on pseudo-terminals)\n"
        f"  Data and configs   {data_dir}\n"
        f"  Logs               {logs}\n"
        "Press Ctrl-C to stop everything.\n",
        flush=True,
    )
