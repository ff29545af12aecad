"""What every benchmark needs: a private broker, a gateway process, event streams, RSS and percentiles.

Benchmarks run the real daemons (``python -m atelier ...``) against a private
mosquitto, like the end-to-end tests, and each compares its figure with a
baseline measured in the same run on the same machine.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker, free_port, wait_for_port
from edge_agent import contract
from harness.probes import health, wait_until

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Figure:
    """One measured figure next to its baseline, as printed and written into docs/performance.md."""

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    target: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    def line(self) -> str:
        return (
            f"{self.name}: {self.value:,.1f} {self.unit} | baseline {self.baseline_name}: "
            f"{self.baseline:,.1f} {self.unit} | ratio {self.ratio:.2f} | target {self.target}"
        )


def report(figures: list[Figure]) -> None:
    for figure in figures:
        print(figure.line(), flush=True)


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"atelier-bench-{prefix}-") as name:
        yield Path(name)


@contextmanager
def broker(root: Path) -> Iterator[Broker]:
    instance = Broker(data_dir=root / "broker")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


# --- processes ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` and its descendants in MiB, from /proc (Linux).

    Descendants count: the gateway receives MQTT in a child process of its own.
    """
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total = int(line.split()[1]) / 1024
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return total  # the process ended meanwhile
    return total + sum(rss_mb(child) for child in children)


def bare_python_rss_mb() -> float:
    """RSS of an idle interpreter: the floor under any Python daemon."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        return rss_mb(process.pid)
    finally:
        process.kill()
        process.wait()


def gateway_toml(root: Path, broker_: Broker, *, db_url: str, http_port: int, gateway_id: str = "bench-gw") -> Path:
    path = root / f"{gateway_id}.toml"
    path.write_text(
        f'[gateway]\nid = "{gateway_id}"\n\n'
        f'[broker]\nhost = "{broker_.host}"\nport = {broker_.port}\n\n'
        f'[database]\nurl = "{db_url}"\n\n'
        f'[ingest]\ngap_timeout_s = 5.0\n{_batch_size()}\n[http]\nhost = "127.0.0.1"\nport = {http_port}\n'
    )
    return path


def _batch_size() -> str:
    size = os.environ.get("BENCH_GATEWAY_BATCH")
    return f"batch_size = {int(size)}\n" if size else ""


class Process:
    """``python -m atelier ARGS`` (or another ``module``) in its own session, with its log in a file."""

    def __init__(self, args: list[str], log: Path, *, module: str = "atelier") -> None:
        with log.open("ab") as handle:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.log = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill_group(self) -> None:
        """SIGKILL the process and its children (the gateway's receiver): nothing gets to clean up."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_gateway(root: Path, broker_: Broker, db_url: str, gateway_id: str = "bench-gw") -> tuple[Process, int]:
    port = free_port()
    config = gateway_toml(root, broker_, db_url=db_url, http_port=port, gateway_id=gateway_id)
    process = Process(["gateway", "run", "-c", str(config)], root / f"{gateway_id}.log")
    wait_for_port("127.0.0.1", port, timeout_s=60)
    wait_until(lambda: health(port).get("subscribed") is True, 60, "the gateway to subscribe")
    return process, port


# --- event streams -------------------------------------------------------------------------


def event_stream(agents: int, machines_per_agent: int, events: int, site: str = "bench") -> Iterator[tuple[str, bytes]]:
    """(topic, payload) pairs: each agent's birth, then ``events`` events spread round-robin over its machines.

    Events rotate through a cycle's life (started, ended, part counted, state changed), so ingest writes
    every kind of row it writes in a workshop; each agent's seq is contiguous from 1.
    """
    names = {a: [f"m{a:03d}-{m:03d}" for m in range(machines_per_agent)] for a in range(agents)}
    for a, machines in names.items():
        birth = contract.AgentStatus(
            agent=f"agent-{a:03d}", ts=datetime.now(UTC), status="online", machines=tuple(machines), site=site
        )
        yield contract.agent_topic(site, f"agent-{a:03d}", "status"), contract.encode(birth)
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(events):
        a = i % agents
        seq = i // agents + 1
        machine = names[a][seq % machines_per_agent]
        ts = start + timedelta(milliseconds=i)
        message = _event(f"agent-{a:03d}", machine, seq, ts)
        yield contract.machine_topic(site, machine, "event"), contract.encode(message)


def _event(agent: str, machine: str, seq: int, ts: datetime) -> contract.Message:
    step = seq % 4
    if step == 0:
        return contract.CycleStarted(agent=agent, machine=machine, seq=seq, ts=ts, program="P1")
    if step == 1:
        return contract.CycleEnded(
            agent=agent, machine=machine, seq=seq, ts=ts, program="P1", started=ts - timedelta(seconds=30),
            duration_s=30.0, held_s=0.0, parts=1, outcome=contract.CycleOutcome.COMPLETED,
        )  # fmt: skip
    if step == 2:
        return contract.PartCounted(agent=agent, machine=machine, seq=seq, ts=ts, count=1, counter=seq, program="P1")
    return contract.StateChanged(
        agent=agent, machine=machine, seq=seq, ts=ts, availability=contract.Availability.AVAILABLE,
        execution=contract.Execution.READY, mode=contract.Mode.AUTOMATIC,
    )  # fmt: skip


def publish_all(broker_: Broker, messages: Iterator[tuple[str, bytes]], *, retain_status: bool = True) -> int:
    """Publish at QoS 1 as fast as the broker acknowledges; return how many."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(broker_.host, broker_.port)
    client.loop_start()
    count, last = 0, None
    try:
        for topic, payload in messages:
            last = client.publish(topic, payload, qos=1, retain=retain_status and topic.endswith("/status"))
            count += 1
            if count % 5000 == 0:  # back-pressure: paho would otherwise queue everything in memory
                last.wait_for_publish(300)
        if last is not None:
            last.wait_for_publish(300)
        time.sleep(0.2)  # the last PUBACKs
    finally:
        client.disconnect()
        client.loop_stop()
    return count


def prime_session(broker_: Broker, client_id: str, topic: str = "atelier/v1/#") -> None:
    """Create a persistent QoS 1 session, so what is published next waits for ``client_id``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=False)
    subscribed = []
    client.on_subscribe = lambda *args: subscribed.append(True)
    client.connect(broker_.host, broker_.port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    wait_until(lambda: bool(subscribed), 10, f"{client_id} to subscribe")
    client.disconnect()
    client.loop_stop()


# --- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def sqlite_count(path: Path, sql: str) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
