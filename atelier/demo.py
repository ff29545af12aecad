"""``atelier demo``: the whole system on one machine with simulated machines.

Starts a private mosquitto with the shipped broker settings, a gateway on
SQLite in the data folder, and one edge agent serving simulated machines, each
as its own process as they would run in a workshop. With ``school`` (what
``atelier demo`` runs), it also seeds a small school (``demo_school``) and lets
simulated students work at the kiosks (``demo_students``). Ctrl-C stops them all.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from atelier.broker import Broker, BrokerError, end_process, wait_for_port
from atelier.demo_machines import PROGRAMS, DemoWorkshop
from atelier.demo_school import DEMO_SITE, School, kiosk_tokens, seed_school
from atelier.demo_students import SimulatedStudents
from gateway.config import SCHOOL_ZONE
from gateway.errors import GatewayError
from plumbing import logs

SITE = DEMO_SITE
AGENT = "demo-pc"


def edge_config(data_dir: Path, broker: Broker, workshop: DemoWorkshop) -> str:
    return (
        f'[agent]\nid = "{AGENT}"\nsite = "{SITE}"\nstate_dir = "{data_dir / "edge"}"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n' + workshop.machines_toml()
    )


def database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'gateway.sqlite').resolve()}"


def gateway_config(data_dir: Path, broker: Broker, http_port: int) -> str:
    return (
        f'[gateway]\nid = "demo"\nsite = "{SITE}"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n\n'
        f'[database]\nurl = "{database_url(data_dir)}"\n\n'
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


class DemoError(Exception):
    """The demo could not start; the message says what to do."""


@dataclass
class DemoSystem:
    """The running demo: what ``atelier demo`` starts, for a person or a test to use."""

    port: int
    data_dir: Path
    broker: Broker
    workshop: DemoWorkshop
    children: list[Child]
    school: School | None = None
    students: SimulatedStudents | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway_config(self) -> Path:
        return self.data_dir / "gateway.toml"


@contextmanager
def demo_system(
    *, port: int, data_dir: Path, machines: Iterable[str] | None = None, pace: float = 1.0, school: bool = False
) -> Iterator[DemoSystem]:
    """Start the broker, the simulated machines, the gateway and the agent; stop them all on leaving.

    ``machines`` and ``pace``: some of the machines only, their times scaled (see ``DemoWorkshop``);
    ``school``: seed the school and let the simulated students work (their times scaled by ``pace`` too).
    """
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    workshop = DemoWorkshop(data_dir, machines=machines, pace=pace)
    broker = Broker(data_dir=data_dir / "broker")
    try:
        broker.start()
    except BrokerError as err:
        raise DemoError(f"Could not start the MQTT broker: {err}") from err
    # The simulated controls are asyncua servers; their security notices are not the demo's news.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    children: list[Child] = []
    system: DemoSystem | None = None
    try:
        try:
            workshop.start()
        except Exception as err:  # a simulator that cannot start is reported, never a traceback
            raise DemoError(f"Could not start the simulated machines: {err}") from err
        (data_dir / "edge.toml").write_text(edge_config(data_dir, broker, workshop))
        (data_dir / "gateway.toml").write_text(gateway_config(data_dir, broker, port))
        seeded = _seed(data_dir, pace) if school else None
        children.append(spawn("gateway", ["gateway", "run", "-c", str(data_dir / "gateway.toml")], logs))
        try:
            wait_for_port("127.0.0.1", port, timeout_s=30)
        except BrokerError as err:
            raise DemoError(f"The gateway did not open port {port}; see {logs / 'gateway.log'}") from err
        children.append(spawn("edge", ["edge", "run", "-c", str(data_dir / "edge.toml")], logs))
        workshop.press_start_now_and_then(data_dir / "edge")
        system = DemoSystem(port, data_dir, broker, workshop, children, seeded)
        if seeded is not None:
            system.students = _students(system, seeded, pace)
            system.students.start()
        yield system
    finally:
        if system is not None and system.students is not None:
            system.students.stop()  # they badge out while the gateway still answers
        for child in reversed(children):
            child.stop()
        workshop.stop()
        broker.stop()


def _seed(data_dir: Path, pace: float) -> School:
    try:
        return seed_school(database_url(data_dir), zone=ZoneInfo(SCHOOL_ZONE), pace=pace, site=SITE)
    except GatewayError as err:
        raise DemoError(f"Could not set up the demo's school in {data_dir}: {err}") from err


def _students(system: DemoSystem, school: School, pace: float) -> SimulatedStudents:
    """The students, logging what they do to ``logs/students.log``."""
    log = logging.getLogger("atelier.demo_students")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(system.data_dir / "logs" / "students.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.handlers = [handler]
    machines = system.workshop.machine_ids

    def tokens() -> dict[str, str]:
        return kiosk_tokens(database_url(system.data_dir), data_dir=system.data_dir, machines=machines, site=SITE)

    return SimulatedStudents(
        system.url,
        badges=list(school.badges),
        machine_programs={m: PROGRAMS[m] for m in machines},
        orders=school.orders,
        operations=school.operations,
        tokens=tokens,
        site=SITE,
        pace=pace,
    )


def run_demo(*, port: int, data_dir: Path, seconds: float | None = None) -> int:
    if not port_free(port):
        print(f"Port {port} is already in use. Stop what uses it or choose another: atelier demo --port 8080")
        return 1
    # The simulated machines run in this process: what they warn of comes in the daemons' one format.
    logs.setup(logging.WARNING)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with demo_system(port=port, data_dir=data_dir, school=True) as system:
            _print_banner(system)
            code = _watch(system.children, lambda: stopping, seconds)
            print("Stopping the demo...")
    except DemoError as err:
        print(err)
        return 1
    print("Stopped.")
    return code


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


def _print_banner(system: DemoSystem) -> None:
    port, broker, data_dir, machines = system.port, system.broker, system.data_dir, system.workshop.machine_ids
    print(
        "\nAtelier demo is running.\n"
        f"  Live status page   http://127.0.0.1:{port}/   (English: http://127.0.0.1:{port}/?lang=en)\n"
        f"  Machines API       http://127.0.0.1:{port}/api/machines\n"
        f"  MQTT broker        mqtt://{broker.host}:{broker.port}  (mosquitto, persistence on)\n"
        f"  Edge agent         '{AGENT}' with {len(machines)} simulated machines: {', '.join(machines)}\n"
        "                     (OPC UA SINUMERIK and umati servers, a Haas and a GRBL on pseudo-terminals)\n"
        + (_school_lines(system.school, port, data_dir) if system.school is not None else "")
        + f"  Data and configs   {data_dir}\n"
        f"  Logs               {data_dir / 'logs'}\n"
        "Press Ctrl-C to stop everything.\n",
        flush=True,
    )


def _school_lines(school: School, port: int, data_dir: Path) -> str:
    if school.password is not None:
        login = (
            f"  Master's login     http://127.0.0.1:{port}/login  user {school.master}  password {school.password}\n"
            "                     (shown this once, stored hashed; change it: POST /api/auth/password,\n"
            "                     see docs/records.md)\n"
        )
    else:
        login = (
            f"  Master's login     http://127.0.0.1:{port}/login  user {school.master}  (its password was shown\n"
            f"                     when {data_dir} was first used; another master's login:\n"
            f"                     atelier gateway create-admin NAME -c {data_dir / 'gateway.toml'})\n"
        )
    return login + (
        f"  School             {len(school.badges)} students in {' and '.join(school.classes)}, "
        f"{len(school.orders)} orders; simulated students badge in at the kiosks (logs/students.log)\n"
        f"  Orders, reports    http://127.0.0.1:{port}/orders   http://127.0.0.1:{port}/utilisation\n"
        f"  Master's badge     {school.master_badge}  (type it at a kiosk to approve a first part or end a session)\n"
    )
