"""The whole chain as separate processes: broker, edge agent, gateway, as they run in a workshop.

Each daemon runs as ``python -m atelier ...`` so tests can SIGKILL and restart it.
The truth is the simulators' own record of the cycles they made; the result is
what the gateway wrote to its SQLite file.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atelier.broker import Broker, OwnedProcess, free_port, wait_for_port

SITE = "e2e"
AGENT = "e2e-pc"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def sim_options(seed: int, cycles: int, cycle_s: float = 0.4, **extra: object) -> dict[str, object]:
    """A quick, deterministic simulated machine: short cycles, no surprises unless asked."""
    options: dict[str, object] = {
        "seed": seed,
        "programs": [{"name": f"PRG{seed}", "cycle_s": cycle_s, "parts_per_cycle": 1, "tool": "T1"}],
        "idle_s": 0.15,
        "jitter": 0.1,
        "cycles": cycles,
        "feed_hold_chance": 0.0,
        "alarm_chance": 0.0,
        "abort_chance": 0.0,
        "mode_change_chance": 0.0,
        "telemetry_interval_s": 0.2,
    }
    options.update(extra)
    return options


@dataclass
class Daemon(OwnedProcess):
    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "atelier", *self.args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout_s: float = 20.0) -> None:
        self._signal(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        self._signal(signal.SIGKILL, 5.0)


@dataclass
class Chain:
    root: Path
    broker: Broker
    machines: dict[str, dict[str, object]] = field(default_factory=dict)
    # Machines behind real drivers (opcua, serial) whose simulators the test runs itself.
    devices: dict[str, tuple[str, str | None, dict[str, object]]] = field(default_factory=dict)
    device_settings: dict[str, object] = field(default_factory=lambda: {"reconnect_max_s": 1.0})
    http_port: int = field(default_factory=free_port)
    agent: Daemon | None = None
    gateway: Daemon | None = None
    telemetry_interval_s: float = 0.2
    # None: the gateway's SQLite file under root; a PostgreSQL URL for several gateways on one store.
    database_url: str | None = None
    shared_group: str | None = None
    state_dir: Path | None = None  # the agent's outbox folder; defaults to root/edge
    extra_gateways: list[Daemon] = field(default_factory=list)
    edge_extra: str = ""  # more TOML for edge.toml, e.g. an [outbox] section

    @property
    def db_path(self) -> Path:
        return self.root / "gateway.sqlite"

    def record_path(self, machine: str) -> Path:
        return self.root / "records" / f"{machine}.jsonl"

    def add_machine(self, machine: str, options: dict[str, object]) -> None:
        self.machines[machine] = {**options, "record_path": str(self.record_path(machine))}

    def add_device(self, machine: str, driver: str, options: dict[str, object], *, profile: str | None = None) -> None:
        """A machine read by a real driver; its simulator keeps its record at ``record_path(machine)``, if any."""
        self.devices[machine] = (driver, profile, options)

    def _device_tables(self) -> list[str]:
        tables = []
        for machine, (driver, profile, options) in self.devices.items():
            head = f'[[machines]]\nid = "{machine}"\ndriver = "{driver}"\ntelemetry_interval_s = 0.2\n'
            head += f'profile = "{profile}"\n' if profile else ""
            head += "".join(f"{k} = {toml_value(v)}\n" for k, v in self.device_settings.items())
            tables.append(
                head + "[machines.options]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in options.items())
            )
        return tables

    def write_configs(self) -> None:
        (self.root / "records").mkdir(parents=True, exist_ok=True)
        edge = [
            f'[agent]\nid = "{AGENT}"\nsite = "{SITE}"\nstate_dir = "{self.state_dir or self.root / "edge"}"\n',
            f'[broker]\nhost = "{self.broker.host}"\nport = {self.broker.port}\nreconnect_max_s = 1.0\n',
        ]
        for machine, options in self.machines.items():
            edge.append(
                f'[[machines]]\nid = "{machine}"\ndriver = "simulator"\n'
                f"telemetry_interval_s = {self.telemetry_interval_s}\n"
            )
            edge.append("[machines.options]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in options.items()))
        edge.extend(self._device_tables())
        edge.append(self.edge_extra)
        (self.root / "edge.toml").write_text("\n".join(edge))
        self.write_gateway_config(self.root / "gateway.toml", "e2e-gw", self.http_port)

    def write_gateway_config(self, path: Path, gateway_id: str, http_port: int) -> None:
        url = self.database_url or f"sqlite:///{self.db_path}"
        group = f'shared_group = "{self.shared_group}"\n' if self.shared_group else ""
        path.write_text(
            f'[gateway]\nid = "{gateway_id}"\nsite = "{SITE}"\n\n'
            f'[broker]\nhost = "{self.broker.host}"\nport = {self.broker.port}\n\n'
            f'[database]\nurl = "{url}"\n\n'
            f"[ingest]\ngap_timeout_s = 2.0\n{group}\n"
            f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n'
        )

    def start_gateway(self) -> None:
        self.gateway = Daemon(
            "gateway", ["gateway", "run", "-c", str(self.root / "gateway.toml")], self.root / "gw.log"
        )
        self.gateway.start()
        wait_for_port("127.0.0.1", self.http_port, timeout_s=30)

    def add_gateway(self, gateway_id: str) -> Daemon:
        """Start one more gateway on the same bus and store (give the chain a shared_group first)."""
        port = free_port()
        config = self.root / f"{gateway_id}.toml"
        self.write_gateway_config(config, gateway_id, port)
        daemon = Daemon(gateway_id, ["gateway", "run", "-c", str(config)], self.root / f"{gateway_id}.log")
        daemon.start()
        wait_for_port("127.0.0.1", port, timeout_s=30)
        self.extra_gateways.append(daemon)
        return daemon

    def start_agent(self) -> None:
        self.agent = Daemon("edge", ["edge", "run", "-c", str(self.root / "edge.toml")], self.root / "edge.log")
        self.agent.start()

    def start(self) -> None:
        self.write_configs()
        self.start_gateway()
        self.start_agent()

    def stop(self) -> None:
        for daemon in (self.agent, self.gateway, *self.extra_gateways):
            if daemon is not None:
                daemon.stop()

    # --- the truth and the result ----------------------------------------------------------

    def records(self, machine: str | None = None) -> list[dict[str, Any]]:
        names = [machine] if machine else [*self.machines, *self.devices]
        rows: list[dict[str, Any]] = []
        for name in names:
            path = self.record_path(name)
            if path.exists():
                rows.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
        return rows

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        if self.database_url is not None:
            return self._query_postgres(sql, *params)
        if not self.db_path.exists():
            return []
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                return []  # schema not created yet

    def _query_postgres(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        import psycopg  # only the PostgreSQL tests need it

        assert self.database_url is not None
        url = self.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []  # schema not created yet

    def cycles(self) -> list[tuple[Any, ...]]:
        return self.query(
            "SELECT m.name, c.program, c.started, c.duration_s, c.parts, c.outcome, c.seq "
            "FROM cycles c JOIN machines m ON m.id = c.machine_id ORDER BY m.name, c.started"
        )

    def parts(self) -> dict[str, int]:
        rows = self.query(
            "SELECT m.name, SUM(p.count) FROM part_counts p JOIN machines m ON m.id = p.machine_id GROUP BY m.name"
        )
        return {name: int(total) for name, total in rows}

    def machine_states(self) -> dict[str, dict[str, Any]]:
        """GET /api/machines from the running gateway, by machine id."""
        url = f"http://127.0.0.1:{self.http_port}/api/machines"
        with urllib.request.urlopen(url, timeout=10) as response:
            return {m["id"]: m for m in json.load(response)}

    def availability(self, machine: str) -> str | None:
        found = self.machine_states().get(machine)
        return None if found is None else str(found["availability"])

    def edge_command(self, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        """``python -m atelier edge ARGS -c edge.toml`` against the running agent, e.g. ``send MACHINE FILE``."""
        return subprocess.run(
            [sys.executable, "-m", "atelier", "edge", *args, "-c", str(self.root / "edge.toml")],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            for daemon in (self.agent, self.gateway):
                if daemon is not None and daemon.process is not None and daemon.process.poll() is not None:
                    raise AssertionError(f"{daemon.name} died: {daemon.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def all_cycles_made(self, per_machine: int) -> bool:
        return all(len(self.records(m)) >= per_machine for m in self.machines)


def edge_toml(
    path: Path, *, agent: str, site: str, broker: Broker, state_dir: Path, machines: dict[str, dict[str, object]]
) -> Path:
    """An edge agent's configuration with simulated machines (options as ``sim_options``)."""
    parts = [
        f'[agent]\nid = "{agent}"\nsite = "{site}"\nstate_dir = "{state_dir}"\n',
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1.0\n',
    ]
    for machine, options in machines.items():
        interval = options.get("telemetry_interval_s", 1.0)
        parts.append(f'[[machines]]\nid = "{machine}"\ndriver = "simulator"\ntelemetry_interval_s = {interval}\n')
        parts.append("[machines.options]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in options.items()))
    path.write_text("\n".join(parts))
    return path


def gateway_toml(
    path: Path,
    *,
    gateway_id: str,
    site: str | Sequence[str],
    broker: Broker,
    database_url: str,
    http_port: int,
    shared_group: str | None = None,
    timezone: str | None = None,
    network: dict[str, object] | None = None,
) -> Path:
    """A gateway's configuration: its site (``+`` for every site, or a list of sites), its broker and store,
    its ``[network]`` jobs."""
    ingest = f'shared_group = "{shared_group}"\n' if shared_group else ""
    parts = [
        f'[gateway]\nid = "{gateway_id}"\nsite = {json.dumps(site if isinstance(site, str) else list(site))}\n',
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n',
        f'[database]\nurl = "{database_url}"\n',
        f"[ingest]\n{ingest}",
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n',
    ]
    if timezone is not None:
        parts.append(f'[records]\ntimezone = "{timezone}"\n')
    if network:
        parts.append("[network]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in network.items()))
    path.write_text("\n".join(parts))
    return path
