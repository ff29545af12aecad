"""Memory (RSS) of the edge agent and the gateway at 10 and 100 simulated machines.

Each size runs the whole chain for a while (cycles, telemetry every second,
a status page connected), then reads VmRSS from /proc. Baseline: an idle
Python interpreter started in the same run, the floor under either daemon.
"""

from __future__ import annotations

import time

from atelier.broker import Broker
from bench.common import Figure, bare_python_rss_mb, env_int, report, rss_mb, workdir
from bench.latency import build_chain
from harness import Daemon


def measure(machines: int, seconds: float) -> tuple[float, float]:
    """(agent MiB, gateway MiB), the highest of samples taken each second."""
    with workdir(f"memory{machines}") as root:
        b = Broker(data_dir=root / "broker")
        b.start()
        chain = build_chain(root, b, machines)
        try:
            chain.start()
            agent_pid, gateway_pid = _pid(chain.agent), _pid(chain.gateway)
            agent = gateway = 0.0
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                agent, gateway = max(agent, rss_mb(agent_pid)), max(gateway, rss_mb(gateway_pid))
                time.sleep(1.0)
            return agent, gateway
        finally:
            chain.stop()
            b.stop()


def _pid(daemon: Daemon | None) -> int:
    if daemon is None or daemon.process is None:
        raise RuntimeError("the daemon did not start")
    return daemon.process.pid


def run() -> list[Figure]:
    seconds = env_int("BENCH_MEMORY_SECONDS", 45)
    floor = bare_python_rss_mb()
    print(f"== memory: {seconds} s per size; an idle interpreter takes {floor:.1f} MiB", flush=True)
    figures = []
    for machines in (10, 100):
        agent, gateway = measure(machines, seconds)
        target = "< 300 MiB" if machines == 100 else "-"
        figures.append(Figure(f"agent RSS, {machines} machines", agent, "MiB", "idle python", floor, "-"))
        figures.append(Figure(f"gateway RSS, {machines} machines", gateway, "MiB", "idle python", floor, target))
    report(figures)
    return figures
