"""Serial polling: GRBL status and Haas Q round trips, parse cost, and the agent's CPU with 8 machines at 5 Hz.

``python -m bench.serial_poll``. The devices are the pseudo-terminal simulators
(``atelier.simulators``) served by threads of this process. Baselines, measured
in the same run: an echo device on a pseudo-terminal (the transport floor for a
round trip), ``str.split`` of the same reply (the floor for parsing), and a bare
pyserial loop polling the same 8 devices with the same commands at the same rate
(``--raw``, the floor for the agent's CPU).
"""

from __future__ import annotations

import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import serial

from atelier.simulators import GrblSimulator, HaasMachine, HaasPtySimulator
from atelier.simulators.device import PtyDevice
from bench.common import Figure, Process, broker, env_int, percentile, report, workdir
from bench.opcua_latency import cpu_seconds
from edge_agent.drivers.serial import grbl, haas_q
from edge_agent.drivers.serial.options import HaasOptions

MACHINES = 8
# All GRBL: one status poll per round. Mixed: the Haas half asks its whole Q round (9 commands) at 5 Hz.
MIXES = {"8 GRBL": ("grbl",) * MACHINES, "4 GRBL + 4 Haas": ("grbl", "haas") * (MACHINES // 2)}
POLL_S = 0.2  # 5 Hz
ROUND_TRIPS = env_int("BENCH_SERIAL_ROUND_TRIPS", 300)
WINDOW_S = env_int("BENCH_SERIAL_WINDOW_S", 20)
HAAS_COMMANDS = HaasOptions.model_fields["commands"].default
STATUS = "<Run|MPos:12.500,-3.250,0.000|Bf:12,96|FS:600,1000|Ov:100,100,100|A:S>"
Q500 = "PROGRAM, O01234, IDLE, PARTS, 1234"
ETB = b"\x17"


class Echo(PtyDevice):
    def received(self, data: bytes) -> None:
        self.send(data)


@contextmanager
def devices(root: Path, kinds: tuple[str, ...] = ("grbl", "haas")) -> Iterator[list[tuple[str, PtyDevice]]]:
    sims: list[tuple[str, PtyDevice]] = [
        (kind, GrblSimulator(root / f"grbl{n}"))
        if kind == "grbl"
        else (kind, HaasPtySimulator(HaasMachine(cycle_s=2.0, idle_s=1.0), root / f"haas{n}"))
        for n, kind in enumerate(kinds)
    ]
    for _, sim in sims:
        sim.start()
    try:
        yield sims
    finally:
        for _, sim in sims:
            sim.stop()


# --- round trips and parsing -------------------------------------------------------------------


def round_trips(port: str, ask: bytes, until: bytes) -> list[float]:
    times = []
    with serial.Serial(port, 115200, timeout=2) as line:
        for _ in range(ROUND_TRIPS):
            start = time.perf_counter()
            line.write(ask)
            if not line.read_until(until).endswith(until):
                raise TimeoutError(f"no reply to {ask!r} on {port}")
            times.append((time.perf_counter() - start) * 1e6)
    return times


def parse_us(parse: Callable[[], object], number: int = 20000) -> float:
    return min(timeit.repeat(parse, number=number, repeat=5)) / number * 1e6


def haas_parse() -> object:
    reply = haas_q.parse_reply(Q500)
    return haas_q.readings("Q500", reply, datetime.now(UTC))


def latency_figures(root: Path) -> list[Figure]:
    echo = Echo(root / "echo")
    echo.start()
    try:
        floor = round_trips(echo.path, b"?", b"?")
    finally:
        echo.stop()
    with devices(root) as sims:
        grbl_us = round_trips(sims[0][1].path, b"?", b">\r\n")
        haas_us = round_trips(sims[1][1].path, haas_q.request("Q500", "stx-etb"), ETB)
    return [
        Figure("GRBL '?' round trip p50", percentile(grbl_us, 50), "us", "pty echo p50", percentile(floor, 50), "-"),
        Figure("GRBL '?' round trip p99", percentile(grbl_us, 99), "us", "pty echo p99", percentile(floor, 99), "-"),
        Figure("Haas Q500 round trip p50", percentile(haas_us, 50), "us", "pty echo p50", percentile(floor, 50), "-"),
        Figure("Haas Q500 round trip p99", percentile(haas_us, 99), "us", "pty echo p99", percentile(floor, 99), "-"),
        Figure(
            "GRBL status parse", parse_us(lambda: grbl.parse_line(STATUS)), "us",
            "str.split('|')", parse_us(lambda: STATUS.split("|")), "-",
        ),
        Figure("Haas Q500 parse + readings", parse_us(haas_parse), "us",
               "str.split(', ')", parse_us(lambda: Q500.split(", ")), "-"),
    ]  # fmt: skip


# --- CPU: the agent against a bare poller --------------------------------------------------------


def raw_poll(ports: list[tuple[str, str]], run_s: float) -> None:
    """The floor: one loop, blocking pyserial, the agent's commands at the agent's rate."""
    lines = [(kind, serial.Serial(port, 115200, timeout=1)) for kind, port in ports]
    end = time.monotonic() + run_s
    next_at = time.monotonic()
    while time.monotonic() < end:
        for kind, line in lines:
            if kind == "grbl":
                line.write(b"?")
                line.read_until(b">\r\n")
            else:
                for command in HAAS_COMMANDS:
                    line.write(haas_q.request(command, "stx-etb"))
                    line.read_until(ETB)
        next_at += POLL_S
        time.sleep(max(0.0, next_at - time.monotonic()))


def agent_config(root: Path, host: str, port: int, sims: list[tuple[str, PtyDevice]]) -> Path:
    lines = [f'[agent]\nid = "bench-pc"\nsite = "bench"\nstate_dir = "{root / "edge"}"\n',
             f'[broker]\nhost = "{host}"\nport = {port}\n']  # fmt: skip
    for n, (kind, sim) in enumerate(sims):
        profile = "grbl-1.1" if kind == "grbl" else "haas-ngc-q"
        lines.append(
            f'[[machines]]\nid = "{kind}-{n}"\ndriver = "serial"\nprofile = "{profile}"\n'
            f'[machines.options]\nport = "{sim.path}"\npoll_interval_s = {POLL_S}\n'
        )
    path = root / "edge.toml"
    path.write_text("\n".join(lines))
    return path


def cpu_percent(pid: int, seconds: float) -> float:
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - start) * 100


def cpu_figures(root: Path, mix: str) -> list[Figure]:
    where = root / mix.replace(" ", "_")
    where.mkdir()
    with devices(where, MIXES[mix]) as sims, broker(where) as bus:
        ports = ",".join(f"{kind}={sim.path}" for kind, sim in sims)
        baseline = subprocess.Popen([sys.executable, "-m", "bench.serial_poll", "--raw", ports, str(WINDOW_S + 4)])
        time.sleep(2)
        raw_cpu = cpu_percent(baseline.pid, WINDOW_S)
        baseline.wait(30)
        agent = Process(["edge", "run", "-c", str(agent_config(where, bus.host, bus.port, sims))], where / "edge.log")
        try:
            time.sleep(5)  # start-up and first connections
            agent_cpu = cpu_percent(agent.pid, WINDOW_S)
        finally:
            agent.stop()
    return [
        Figure(f"agent CPU, {mix} at 5 Hz", agent_cpu, "% of one core",
               "bare pyserial poller", raw_cpu, "< 5 %"),
    ]  # fmt: skip


def run() -> list[Figure]:
    with workdir("serial") as root:
        found = latency_figures(root)
        for mix in MIXES:
            found += cpu_figures(root, mix)
    report(found)
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["--raw"]:
        ports = [(kind, path) for kind, _, path in (p.partition("=") for p in argv[1].split(","))]
        raw_poll(ports, float(argv[2]))
    else:
        run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
