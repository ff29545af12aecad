"""A network of schools: site brokers bridged to one central broker, feeding one gateway pool on PostgreSQL.

Everything runs on this host: ``BENCH_SITES`` mosquittos (one per school), each
with the bridge block of ``atelier.bridge.bridge_block`` (``atelier bus bridge``) to one central mosquitto; a pool of
``atelier gateway run`` processes sharing the stream through an MQTT 5 shared
subscription on one throw-away PostgreSQL database. One school runs a real
edge agent with simulated machines; the others are load generators
(``bench.site_load``) that build their messages with the wire contract as the
agent does. Phases, each against a baseline measured in the same run:

1. bus baselines, before any gateway exists: the same burst drained by a bare
   ``mosquitto_sub -q 1`` on the central broker, once through the bridges and
   once published straight into the central broker (the bridges' cost); then
   once more with the central broker stopped while the schools publish, so the
   burst waits in the bridges' queues and is flushed when it is back;
2. steady: every machine a cycle every ``BENCH_SITES_CYCLE_S`` and a telemetry
   sample a second; lag from publish time at the school to the row committed in
   PostgreSQL (stamped by a deferred trigger at commit), p50/p99, against a bare
   subscriber on the central broker timing the same messages; then the same steady
   load again with every generated school's network aggregates on top (issue 17):
   the centre's CPU, ingest rate and round trip against the first run as baseline,
   and the lag of the network page, from a school's publish to the figure visible
   in ``/network.csv`` (the page's own rows), p50/p95;
3. burst: every generator at full speed; the pool's throughput;
4. the same with one gateway SIGKILLed mid-burst and restarted 5 s later, as systemd does;
5. exactness: every (site, agent, seq) generated is stored exactly once.

Sizes (environment): ``BENCH_SITES`` (35 schools), ``BENCH_SITE_MACHINES`` (20 per
school, ten per agent), ``BENCH_SITES_STEADY_S`` (60), ``BENCH_SITES_CYCLE_S`` (20),
``BENCH_SITES_BURST`` (1,000 sequenced messages per generated school and burst),
``BENCH_SITES_GATEWAYS`` (2), ``BENCH_SITES_REAL_AGENT`` (1; 0 for generators only),
``BENCH_SITES_KILL`` (1), ``BENCH_SITES_GENERATORS`` (2 processes),
``BENCH_SITES_AGGREGATES`` (1; 0 for no aggregate phase), ``BENCH_SITES_AGG_INTERVAL_S`` (5).
About four minutes with the defaults on a 2-core machine. ``python -m bench sites`` or ``python -m bench.sites``.

The aggregates come from the load generators, not from 35 gateways: a school's gateway is a process of
its own (~100 MB, its SQLite, and a publisher round that computes the utilisation page's figures for every
machine and period: seconds of CPU per school and round, docs/performance.md), and 34 of them beside 35
mosquittos and the pool do not fit on 2 cores; what the centre sees of them is only their messages. The
generators send the publisher's messages (``contract.NetworkAggregate`` of 20 machines, encoded by the
contract) with its rules (a full round at connection: today's hours and the last 7 days; then every interval
the last two hours, only when changed; see ``bench.site_load.SiteAggregates``), at an interval of 5 s
instead of the default 300 s: sixty times the default rate, so that a minute gives enough publishes to
time, and a load on the centre well above what the network will see.
"""

from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
import sqlite3
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from atelier.bridge import bridge_block
from atelier.broker import Broker, free_port, wait_for_port
from bench import site_load
from bench.common import PG_ADMIN_URL, Figure, Process, percentile, prime_session, report, workdir
from edge_agent import contract
from gateway.admin import create_admin
from harness import edge_toml, gateway_toml, health, sim_options, wait_for_bridges, wait_until

SHARED_GROUP = "central"
MACHINES_PER_AGENT = 10  # a workshop PC serves up to ten machines
REAL_AGENT = "atelier-pc"
RESTART_S = 5.0  # systemd's RestartSec in systemd/atelier-gateway.service
WARMUP_S = 5.0  # the steady phase's first seconds, left out of its lag
REPUBLISH_DAYS = 7  # the publisher's default [network] republish_days
PAGE_USER, PAGE_PASSWORD = "bench-network", "bench-network-pass-1"
POLL_S = 1.0  # the page poller's pause between two reads of /network.csv: a person who refreshes it


def site_name(index: int) -> str:
    return f"school-{index + 1:02d}"


def machine_names(count: int) -> list[str]:
    """The same names in every school, as schools name their machines: the store keys them by (site, name)."""
    return [f"cnc-{j + 1:02d}" for j in range(count)]


# --- knobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knobs:
    sites: int
    machines: int
    steady_s: float
    cycle_s: float
    burst: int  # sequenced messages per generated school in each burst
    gateways: int
    real_agent: bool
    kill: bool
    processes: int
    aggregates: bool
    agg_interval_s: float

    @classmethod
    def from_env(cls) -> Knobs:
        env = os.environ.get
        return cls(
            sites=int(env("BENCH_SITES", "35")),
            machines=int(env("BENCH_SITE_MACHINES", "20")),
            steady_s=float(env("BENCH_SITES_STEADY_S", "60")),
            cycle_s=float(env("BENCH_SITES_CYCLE_S", "20")),
            burst=int(env("BENCH_SITES_BURST", "1000")),
            gateways=int(env("BENCH_SITES_GATEWAYS", "2")),
            real_agent=env("BENCH_SITES_REAL_AGENT", "1") != "0",
            kill=env("BENCH_SITES_KILL", "1") != "0",
            processes=int(env("BENCH_SITES_GENERATORS", "2")),
            aggregates=env("BENCH_SITES_AGGREGATES", "1") != "0",
            agg_interval_s=float(env("BENCH_SITES_AGG_INTERVAL_S", "5")),
        )

    @property
    def generated_sites(self) -> list[str]:
        first = 1 if self.real_agent else 0
        return [site_name(i) for i in range(first, self.sites)]


# --- the network: one broker per school, one central broker ---------------------------------------


@contextmanager
def network(
    root: Path, sites: list[str], *, restart_timeout: str = "1 10"
) -> Iterator[tuple[Broker, dict[str, Broker]]]:
    central = Broker(data_dir=root / "central")
    central.start()
    schools: dict[str, Broker] = {}
    try:
        for site in sites:
            broker = Broker(data_dir=root / "sites" / site)
            broker.extra_config = bridge_block(site, central.host, central.port, restart_timeout=restart_timeout)
            broker.start()
            schools[site] = broker
        wait_for_bridges(central, sites)
        yield central, schools
    finally:
        for broker in schools.values():
            broker.stop()
        central.stop()


# --- the load generators, in child processes --------------------------------------------------------


class Generators:
    """The generated schools, spread over a few processes that obey the same commands."""

    def __init__(self, specs: list[site_load.SiteSpec], processes: int, seed: int = 1) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads and sockets
        count = max(1, min(processes, len(specs)))
        self._workers = []
        for i in range(count):
            commands: Any = context.Queue()
            results: Any = context.Queue()
            process = context.Process(
                target=site_load.serve, args=(specs[i::count], seed + 1000 * i, commands, results), daemon=True
            )
            process.start()
            self._workers.append((process, commands, results))

    def call(self, name: str, *args: object, timeout_s: float = 900.0) -> list[Any]:
        for _, commands, _ in self._workers:
            commands.put((name, args))
        answers = []
        for process, _, results in self._workers:
            status, value = results.get(timeout=timeout_s)
            if status != "ok":
                raise RuntimeError(f"load generator {process.pid} failed on {name!r}: {value}")
            answers.append(value)
        return answers

    def stop(self) -> None:
        with suppress(Exception):
            self.call("stop", timeout_s=30)
        for process, _, _ in self._workers:
            process.join(10)
            if process.is_alive():
                process.kill()


# --- the central gateway pool ------------------------------------------------------------------------

STAMP_SQL = """
CREATE UNLOGGED TABLE bench_stored (message_id integer PRIMARY KEY, stored_at timestamptz NOT NULL);
CREATE FUNCTION bench_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_stored VALUES (NEW.id, clock_timestamp()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
-- Deferred: fires as the gateway's transaction commits, so stored_at is when the row became visible.
CREATE CONSTRAINT TRIGGER bench_stamp AFTER INSERT ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_stamp();
-- Each version of a school's period the network's gateway stores (its ts: when the school published it).
CREATE UNLOGGED TABLE bench_network_stored (
    site text, period text, start timestamptz, version timestamptz, stored_at timestamptz NOT NULL,
    PRIMARY KEY (site, period, start, version));
CREATE FUNCTION bench_network_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_network_stored VALUES (NEW.site, NEW.period, NEW.start, NEW.version, clock_timestamp())
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER bench_network_stamp AFTER INSERT OR UPDATE ON network_periods
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_network_stamp();
"""


@dataclass
class Gateway:
    gateway_id: str
    config: Path
    port: int
    process: Process | None = None


@dataclass
class Pool:
    """Gateways sharing ``$share/central/...`` on the central broker, writing to one fresh PostgreSQL database."""

    root: Path
    central: Broker
    size: int
    name: str = field(default_factory=lambda: f"atelier_sites_{uuid.uuid4().hex[:8]}")
    gateways: list[Gateway] = field(default_factory=list)
    _conn: psycopg.Connection[Any] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    def __enter__(self) -> Pool:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        try:
            self._conn = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.name}", autocommit=True)
            for i in range(self.size):
                self.gateways.append(self._configure(f"central-{i + 1}"))
            # The network's account first: it migrates the empty database, so every gateway finds the schema.
            assert create_admin(self.gateways[0].config, PAGE_USER, PAGE_PASSWORD) == 0
            self.start(0)
            wait_until(lambda: self._has_table("alembic_version"), 60, "the schema")
            self.execute(STAMP_SQL)
            for i in range(1, self.size):
                self.start(i)
        except BaseException:  # no gateway left running, no database left behind
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for gateway in self.gateways:
            if gateway.process is not None:
                gateway.process.stop()
        if self._conn is not None:
            self._conn.close()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _configure(self, gateway_id: str) -> Gateway:
        """Every site's events, and (the network's gateway) every school's aggregates."""
        port = free_port()
        config = gateway_toml(
            self.root / f"{gateway_id}.toml", gateway_id=gateway_id, site="+", broker=self.central,
            database_url=self.url, http_port=port, shared_group=SHARED_GROUP, timezone="UTC",
            network={"collect": True},
        )  # fmt: skip
        return Gateway(gateway_id, config, port)

    def start(self, index: int) -> None:
        gateway = self.gateways[index]
        log = self.root / f"{gateway.gateway_id}.log"
        gateway.process = Process(["gateway", "run", "-c", str(gateway.config)], log)
        wait_for_port("127.0.0.1", gateway.port, timeout_s=60)
        wait_until(lambda: health(gateway.port).get("subscribed") is True, 60, f"{gateway.gateway_id} to subscribe")

    def kill(self, index: int) -> None:
        process = self.gateways[index].process
        if process is not None:
            process.popen.kill()
            process.popen.wait()

    def pids(self) -> list[int]:
        return [g.process.pid for g in self.gateways if g.process is not None and g.process.popen.poll() is None]

    def execute(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        assert self._conn is not None
        cursor = self._conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []

    def log_count(self, text: str) -> int:
        """How many lines of the gateways' logs hold ``text``."""
        logs = (path.read_text(errors="replace") for path in self.root.glob("*.log"))
        return sum(line.count(text) for log in logs for line in log.splitlines())

    def backends(self) -> list[int]:
        """The PostgreSQL server processes serving the gateways (same host: their CPU time is in /proc)."""
        rows = self.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(row[0]) for row in rows]

    def _has_table(self, table: str) -> bool:
        return bool(self.execute("SELECT 1 FROM pg_tables WHERE tablename = %s", table))

    def stored(self, *, except_site: str = "") -> int:
        if except_site:
            rows = self.execute(
                "SELECT count(*) FROM messages m JOIN agents a ON a.id = m.agent_id WHERE a.site <> %s", except_site
            )
        else:
            rows = self.execute("SELECT count(*) FROM messages")
        return int(rows[0][0])


# --- measurements ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Drain:
    messages: int
    offered: float  # generators' publish rate, every PUBACK from the school brokers in
    drained: float  # messages/s from the go to the last one at the consumer
    sustained: float = math.nan  # between 10% and 90% stored (the pool only)


def offered_rate(results: list[list[site_load.BurstResult]], go_at: float) -> float:
    flat = [r for per_process in results for r in per_process]
    total = sum(r.published for r in flat)
    return total / max(1e-6, max(r.acked_at for r in flat) - go_at)


def raw_drain(central: Broker, gens: Generators, per_site: int, tag: str) -> Drain:
    """A bare ``mosquitto_sub -q 1`` on the central broker receives a burst; gateways do not exist yet."""
    client_id = f"bench-raw-{tag}"
    prime_session(central, client_id)  # so nothing published before mosquitto_sub is up is missed
    total = sum(gens.call("prepare_burst", per_site, f"-{tag}"))
    command = ["mosquitto_sub", "-h", central.host, "-p", str(central.port), "-i", client_id, "-c", "-q", "1"]
    sub = subprocess.Popen([*command, "-t", f"{contract.TOPIC_ROOT}/#", "-C", str(total)], stdout=subprocess.DEVNULL)
    done: list[float] = []

    def wait() -> None:
        sub.wait()
        done.append(time.time())

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    go_at = time.time() + 0.5
    results = gens.call("burst", go_at)
    waiter.join(600)
    if sub.returncode != 0 or not done:
        sub.kill()
        raise RuntimeError(f"mosquitto_sub did not receive the {total} messages of the {tag} burst")
    drop_session(central, client_id)
    return Drain(total, offered_rate(results, go_at), total / (done[0] - go_at))


def outage_flush(central: Broker, gens: Generators, per_site: int, tag: str) -> tuple[Drain, float]:
    """The link down: a burst waits in the schools' bridge queues while the central broker is stopped; then it is back.

    Returns the drain at a bare ``mosquitto_sub -q 1`` (first to last message received: the bridges'
    flush) and the seconds from the central broker's restart to the first message (their reconnect).
    """
    client_id = f"bench-raw-{tag}"
    prime_session(central, client_id)
    total = sum(gens.call("prepare_burst", per_site, f"-{tag}"))
    central.stop()  # cleanly: its sessions and queues are saved, as for a planned outage of the centre
    go_at = time.time() + 0.2
    results = gens.call("burst", go_at)  # every PUBACK from a school broker: the burst waits in its bridge's queue
    central.start()
    back_at = time.time()
    command = ["mosquitto_sub", "-h", central.host, "-p", str(central.port), "-i", client_id, "-c", "-q", "1"]
    received = subprocess.run(
        [*command, "-t", f"{contract.TOPIC_ROOT}/#", "-C", str(total), "-F", "%U"],
        capture_output=True, check=True, timeout=600,
    )  # fmt: skip
    stamps = [float(line) for line in received.stdout.split()]
    drop_session(central, client_id)
    flush = Drain(total, offered_rate(results, go_at), total / max(1e-6, stamps[-1] - stamps[0]))
    return flush, stamps[0] - back_at


def drop_session(broker: Broker, client_id: str) -> None:
    """End ``client_id``'s persistent session, or the central broker would queue the rest of the run for it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise TimeoutError(f"no connection to end {client_id}'s session")
    finally:
        client.disconnect()
        client.loop_stop()


def pool_burst(
    pool: Pool, gens: Generators, per_site: int, *, kill: bool = False
) -> tuple[Drain, dict[str, float], float]:
    """Generators at full speed into the schools; the pool's throughput, optionally with a gateway SIGKILLed.

    Returns the drain, CPU seconds per process over the burst and, with ``kill``, the seconds from
    the kill to the last row stored.
    """
    before = pool.stored()
    total = sum(gens.call("prepare_burst", per_site, ""))
    pids = {"central mosquitto": pool.central.process.pid if pool.central.process else 0}
    pids |= {f"gateway {g.gateway_id}": g.process.pid for g in pool.gateways if g.process is not None}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    backends_before = {pid: cpu_seconds(pid) for pid in pool.backends()}
    go_at = time.time() + 0.5
    burst: list[Any] = []
    publisher = threading.Thread(target=lambda: burst.extend(gens.call("burst", go_at)), daemon=True)
    publisher.start()
    samples: list[tuple[float, int]] = []
    killed_at = restarted = math.nan
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        stored = pool.stored() - before
        samples.append((time.time(), stored))
        if stored >= total:
            break
        if kill and math.isnan(killed_at) and stored >= total / 3:
            pool.kill(len(pool.gateways) - 1)
            killed_at = time.time()
            print(f"  SIGKILLed {pool.gateways[-1].gateway_id} at {stored:,} of {total:,} stored", flush=True)
        if kill and math.isnan(restarted) and time.time() >= killed_at + RESTART_S:
            pool.start(len(pool.gateways) - 1)
            restarted = time.time()
        time.sleep(0.25)
    else:
        raise TimeoutError(f"the pool stored {samples[-1][1]:,} of {total:,} burst messages in 900 s")
    if not math.isnan(killed_at) and math.isnan(restarted):  # all landed before systemd would have restarted it
        time.sleep(max(0.0, killed_at + RESTART_S - time.time()))
        pool.start(len(pool.gateways) - 1)
    publisher.join(60)
    cpu = {name: cpu_seconds(pids[name]) - cpu_before[name] for name in pids}
    # A backend that ended with its killed gateway is left out: only a figure for the burst without a kill.
    cpu["PostgreSQL backends"] = sum(cpu_seconds(pid) - backends_before.get(pid, 0.0) for pid in pool.backends())
    drain = Drain(total, offered_rate(burst, go_at), total / (samples[-1][0] - go_at), _sustained(samples, total))
    return drain, cpu, samples[-1][0] - killed_at


def _sustained(samples: list[tuple[float, int]], total: int) -> float:
    """Rate between the first samples at 10% and at 90% of ``total``: the pool's own pace, without the edges."""
    low = next((s for s in samples if s[1] >= 0.1 * total), None)
    high = next((s for s in samples if s[1] >= 0.9 * total), None)
    if low is None or high is None or high[0] <= low[0]:
        return math.nan
    return (high[1] - low[1]) / (high[0] - low[0])


class BusProbe:
    """A bare subscriber on the central broker timing the generated schools' sequenced messages: the bus's lag.

    It sees the same path as the pool (school broker, bridge, central broker), without ingest, so the
    difference between its lag and the pool's is what validating and committing cost.
    """

    def __init__(self, central: Broker, skip_site: str | None) -> None:
        self.samples: list[tuple[float, float]] = []  # (publish time, lag)
        self._skip = skip_site
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{uuid.uuid4().hex[:6]}")
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_args: subscribed.set()
        self._client.connect(central.host, central.port)
        self._client.loop_start()
        self._client.subscribe([(f"{contract.TOPIC_ROOT}/+/+/{channel}", 1) for channel in ("event", "state")])
        if not subscribed.wait(10):
            raise TimeoutError("the bus probe did not subscribe")

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        with suppress(contract.ContractError):
            topic, decoded = contract.decode(message.topic, bytes(message.payload))
            if topic.site != self._skip:
                self.samples.append((decoded.ts.timestamp(), now - decoded.ts.timestamp()))

    def lags(self, since: float, until: float = math.inf) -> list[float]:
        return [lag for ts, lag in self.samples if since <= ts < until]

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class Lag:
    stored_p50: float
    stored_p99: float
    received_p50: float
    received_p99: float
    rows: int


def lags(pool: Pool, *, site: str | None, real: bool, since: float, until: float = math.inf) -> Lag:
    """Seconds from a message's ``ts`` (publish time for the generators, source time for the agent) to commit.

    Only messages stamped from ``since`` on (and before ``until``): the first seconds, while the
    machines' cycles fall into their rhythm, are not the steady state.
    """
    rows = pool.execute(
        "SELECT extract(epoch FROM s.stored_at - m.ts), extract(epoch FROM m.received_at - m.ts) "
        "FROM bench_stored s JOIN messages m ON m.id = s.message_id JOIN agents a ON a.id = m.agent_id "
        "WHERE (a.site = %s) = %s AND m.ts >= to_timestamp(%s) AND m.ts < to_timestamp(%s)",
        site or "",
        real,
        since,
        min(until, 1e11),
    )
    stored, received = [float(r[0]) for r in rows], [float(r[1]) for r in rows]
    return Lag(
        percentile(stored, 50), percentile(stored, 99), percentile(received, 50), percentile(received, 99), len(rows)
    )


@dataclass
class Exactness:
    expected: int = 0
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    cycles_expected: int = 0
    cycles_stored: int = 0
    dead_letters: int = 0
    problems: list[str] = field(default_factory=list)


def exactness(pool: Pool, generated: dict[tuple[str, str], tuple[int, int]], real: Real | None) -> Exactness:
    """Every generated (site, agent, seq) stored once; the real agent's seqs contiguous and its cycles all there."""
    seqs: dict[tuple[str, str], list[int]] = {}
    for site, agent, seq in pool.execute(
        "SELECT a.site, a.name, m.seq FROM messages m JOIN agents a ON a.id = m.agent_id"
    ):
        seqs.setdefault((site, agent), []).append(int(seq))
    cycles: dict[tuple[str, str], list[int]] = {}
    for site, agent, seq in pool.execute(
        "SELECT a.site, a.name, c.seq FROM cycles c JOIN agents a ON a.id = c.agent_id"
    ):
        cycles.setdefault((site, agent), []).append(int(seq))
    expected = dict(generated)
    if real is not None:  # stopped by now: its outbox numbered every seq it made
        expected[(real.site, REAL_AGENT)] = (real.last_seq(), real.cycles_made())
    result = Exactness()
    for key, (last, made) in sorted(expected.items()):
        stored, wanted = seqs.get(key, []), set(range(1, last + 1))
        result.expected += last
        result.stored += len(set(stored) & wanted)
        result.lost += len(wanted - set(stored))
        result.doubled += len(stored) - len(set(stored))
        stored_cycles = cycles.get(key, [])
        result.cycles_expected += made
        result.cycles_stored += len(set(stored_cycles))
        result.doubled += len(stored_cycles) - len(set(stored_cycles))
        if set(stored) != wanted or len(set(stored_cycles)) != made:
            result.problems.append(
                f"{key}: {len(set(stored))} seqs stored of 1..{last}, {len(set(stored_cycles))} cycles of {made}"
            )
    result.problems += [f"{key}: messages from an agent nobody ran" for key in sorted(set(seqs) - set(expected))]
    result.dead_letters = int(pool.execute("SELECT count(*) FROM dead_letters")[0][0])
    return result


# --- the steady load, without and with the schools' aggregates ------------------------------------------


@dataclass
class Phase:
    """The centre during one steady run: what it used, what it stored, how long a message took."""

    seconds: float  # from the go to the last message of the run stored
    cpu: dict[str, float]  # CPU seconds per process (group) over those seconds
    stored: int  # sequenced messages stored
    lag: Lag  # generated schools' messages: publish -> row committed
    bus: list[float]  # the bare subscriber's lags over the same window
    telemetry: int

    @property
    def cpu_share(self) -> float:
        """The centre's processes together, in cores (1.0: one core all the time)."""
        return sum(self.cpu.values()) / self.seconds

    @property
    def rate(self) -> float:
        return self.stored / self.seconds


class CentreCpu:
    """CPU seconds of the central mosquitto, each gateway of the pool and its PostgreSQL backends."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._before = self._now()

    def _now(self) -> dict[str, float]:
        central = self._pool.central.process
        pids = {"central mosquitto": central.pid if central else 0}
        pids |= {f"gateway {g.gateway_id}": g.process.pid for g in self._pool.gateways if g.process is not None}
        used = {name: cpu_seconds(pid) for name, pid in pids.items()}
        used["PostgreSQL backends"] = sum(cpu_seconds(pid) for pid in self._pool.backends())
        return used

    def used(self) -> dict[str, float]:
        now = self._now()
        return {name: now[name] - self._before.get(name, 0.0) for name in now}


def steady_phase(
    pool: Pool, gens: Generators, knobs: Knobs, probe: BusProbe, *, skip: str, aggregates: bool, seconds: float = 0.0
) -> Phase:
    """One steady run of ``seconds`` (``knobs.steady_s``), with or without the generated schools' aggregates."""
    spec = site_load.AggregateSpec(knobs.agg_interval_s, REPUBLISH_DAYS) if aggregates else None
    stored_before = pool.stored(except_site=skip)
    cpu = CentreCpu(pool)
    go = time.time()
    telemetry = sum(gens.call("steady", seconds or knobs.steady_s, knobs.cycle_s, spec))
    until = time.time()
    expected = sum(last for last, _ in _totals(gens)[0].values())
    wait_until(lambda: pool.stored(except_site=skip) >= expected, 600, "the steady phase in the store")
    return Phase(
        seconds=time.time() - go,
        cpu=cpu.used(),
        stored=pool.stored(except_site=skip) - stored_before,
        lag=lags(pool, site=skip or None, real=False, since=go + WARMUP_S, until=until),
        bus=probe.lags(go + WARMUP_S, until),
        telemetry=telemetry,
    )


class PagePoller:
    """Reads ``/network.csv`` (the network page's rows, as CSV) over and over, as a person refreshing it.

    Keeps, per read, when it started and ended and each school's good parts of the week shown.
    """

    def __init__(self, port: int) -> None:
        self._base = f"http://127.0.0.1:{port}"
        self.reads: list[tuple[float, float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="page-poller")

    def __enter__(self) -> PagePoller:
        self._token = self._login()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _login(self) -> str:
        body = json.dumps({"username": PAGE_USER, "password": PAGE_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{self._base}/api/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.load(answer)["token"])

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.time()
            request = urllib.request.Request(
                f"{self._base}/network.csv?format=raw", headers={"Authorization": f"Bearer {self._token}"}
            )
            with suppress(OSError), urllib.request.urlopen(request, timeout=60) as answer:
                rows = list(csv.DictReader(io.StringIO(answer.read().decode())))
                shown = max((r["week"] for r in rows), default="")
                good = {r["site"]: int(r["good"]) for r in rows if r["week"] == shown}
                self.reads.append((started, time.time(), good))
            self._stop.wait(POLL_S)

    def page_seconds(self) -> list[float]:
        return [end - start for start, end, _ in self.reads]


def page_lags(poller: PagePoller, logs: dict[str, list[tuple[float, int]]]) -> list[float]:
    """Per aggregate sent: from its publish to the end of the first read of the page that shows its figure.

    A school's week of good parts only grows while the run lasts, so a read showing at least the total
    the school had sent by then shows this message (or a later one of the same school).
    """
    found: list[float] = []
    for site, sent in logs.items():
        for published, total in sent:
            reads = (end for _, end, good in poller.reads if end >= published and good.get(site, -1) >= total)
            shown = next(reads, None)
            if shown is not None:
                found.append(shown - published)
    return found


def stored_lags(pool: Pool, first_round_until: float) -> tuple[list[float], float, list[float]]:
    """Publish -> committed at the centre, per version of a period stored: of the full rounds every school
    sent at once at the start (published before ``first_round_until``), the seconds from their first
    publish to the last of them stored, and the lags of the rounds published once they were all stored."""
    rows = [
        (float(ts), float(lag))
        for ts, lag in pool.execute(
            "SELECT extract(epoch FROM version), extract(epoch FROM stored_at - version) FROM bench_network_stored"
        )
    ]
    full = [(ts, lag) for ts, lag in rows if ts < first_round_until]
    if not full:
        return [], math.nan, [lag for _, lag in rows]
    cleared = max(ts + lag for ts, lag in full)
    flush = cleared - min(ts for ts, _ in full)
    return [lag for _, lag in full], flush, [lag for ts, lag in rows if ts >= cleared]


def _print_phase(name: str, phase: Phase, knobs: Knobs) -> None:
    print(
        f"  {name}: {phase.stored:,} sequenced messages stored in {phase.seconds:.0f} s ({phase.rate:,.0f}/s) "
        f"and {phase.telemetry:,} telemetry samples offered; lag p50 {phase.lag.stored_p50 * 1000:,.0f} ms, "
        f"p99 {phase.lag.stored_p99 * 1000:,.0f} ms; centre CPU {phase.cpu_share:.2f} cores ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in phase.cpu.items())
        + ")",
        flush=True,
    )


@dataclass
class NetworkRun:
    phase: Phase  # the steady run with the aggregates, nobody on the page
    paged: Phase  # then the same with the network page read in a loop
    messages: int  # aggregates sent by the generated schools
    bytes: int
    schools: int
    full: list[float]  # publish -> stored, the first full rounds (every school at once)
    flush_s: float  # from the first of them published to the last stored
    rounds: list[float]  # publish -> stored, the rounds published once the full rounds were stored
    page: list[float]  # per aggregate sent while the page was read: publish -> visible on the page
    page_s: list[float]  # how long each read of the page took


def network_phase(pool: Pool, gens: Generators, knobs: Knobs, probe: BusProbe, *, skip: str) -> NetworkRun:
    """The steady run again with every generated school's aggregates (the centre's load against the run
    without them); then half as long again with the network page read in a loop (the page's lag)."""
    first_round_until = time.time() + knobs.agg_interval_s / 2
    phase = steady_phase(pool, gens, knobs, probe, skip=skip, aggregates=True)
    _print_phase("steady with aggregates", phase, knobs)
    with PagePoller(pool.gateways[0].port) as poller:
        page_from = time.time()
        paged = steady_phase(
            pool, gens, knobs, probe, skip=skip, aggregates=True, seconds=max(20.0, knobs.steady_s / 2)
        )
        time.sleep(2 * knobs.agg_interval_s)  # the last rounds, to the page
    _print_phase("steady with aggregates and the page read in a loop", paged, knobs)
    logs: dict[str, list[tuple[float, int]]] = {}
    size = 0
    for answer in gens.call("aggregates"):
        logs |= answer["log"]
        size += answer["bytes"]
    full, flush_s, rounds = stored_lags(pool, first_round_until)
    page = page_lags(poller, {site: [e for e in log if e[0] >= page_from] for site, log in logs.items()})
    messages = sum(len(log) for log in logs.values())
    return NetworkRun(phase, paged, messages, size, len(logs), full, flush_s, rounds, page, poller.page_seconds())


def _network_figures(base: Phase, run: NetworkRun) -> list[Figure]:
    network, paged = run.phase, run.paged

    def gateways(phase: Phase) -> float:
        return sum(v for k, v in phase.cpu.items() if k.startswith("gateway")) / phase.seconds

    return [
        Figure("centre CPU (mosquitto, pool, PostgreSQL), steady with aggregates", network.cpu_share, "cores",
               "the same steady load without aggregates", base.cpu_share, "-"),
        Figure("pool gateways' CPU, steady with aggregates", gateways(network), "cores",
               "without aggregates", gateways(base), "-"),
        Figure("ingest rate, steady with aggregates", network.rate, "events/s",
               "without aggregates", base.rate, "-"),
        Figure("round trip publish -> row committed p50, with aggregates", network.lag.stored_p50 * 1000, "ms",
               "without aggregates", base.lag.stored_p50 * 1000, "-"),
        Figure("round trip publish -> row committed p99, with aggregates", network.lag.stored_p99 * 1000, "ms",
               "without aggregates", base.lag.stored_p99 * 1000, "-"),
        Figure("aggregate publish -> stored at the centre p50 (steady rounds)", percentile(run.rounds, 50) * 1000,
               "ms", "events' round trip, same run", network.lag.stored_p50 * 1000, "-"),
        Figure("network page lag, publish -> visible on /network.csv p50", percentile(run.page, 50) * 1000, "ms",
               "publish -> stored at the centre p50", percentile(run.rounds, 50) * 1000, "-"),
        Figure("network page lag, publish -> visible on /network.csv p95", percentile(run.page, 95) * 1000, "ms",
               "publish -> stored at the centre p95", percentile(run.rounds, 95) * 1000, "-"),
        Figure("centre CPU, aggregates and the page read in a loop", paged.cpu_share, "cores",
               "aggregates, nobody on the page", network.cpu_share, "-"),
        Figure("round trip publish -> row committed p99, page read in a loop", paged.lag.stored_p99 * 1000, "ms",
               "aggregates, nobody on the page", network.lag.stored_p99 * 1000, "-"),
    ]  # fmt: skip


def _print_network(knobs: Knobs, base: Phase, run: NetworkRun) -> None:
    network, full, rounds = run.phase, run.full, run.rounds
    seconds = network.seconds + run.paged.seconds
    print(
        f"aggregates: {run.schools} generated schools x {knobs.machines} machines, a round every "
        f"{knobs.agg_interval_s:.0f} s (the default is 300 s): {run.messages:,} messages, {run.bytes / 1e6:.1f} MB "
        f"({run.messages / seconds:.1f} msg/s over {seconds:.0f} s)"
    )
    print(
        f"the first full rounds, every school at once ({len(full):,} messages): all stored {run.flush_s:.1f} s after "
        f"the first was published; publish -> stored p50 {percentile(full, 50) * 1000:,.0f} ms, "
        f"p95 {percentile(full, 95) * 1000:,.0f} ms; the rounds after ({len(rounds):,} messages) "
        f"p50 {percentile(rounds, 50) * 1000:,.0f} ms, p95 {percentile(rounds, 95) * 1000:,.0f} ms"
    )
    print(
        f"/network.csv read {len(run.page_s):,} times, {POLL_S:.2f} s after the previous read: "
        f"p50 {percentile(run.page_s, 50) * 1000:,.0f} ms, p95 {percentile(run.page_s, 95) * 1000:,.0f} ms per read; "
        f"{len(run.page):,} aggregates timed to the page"
    )
    for name, phase in (("without aggregates", base), ("with", network), ("with and the page", run.paged)):
        print(
            f"centre CPU {name}: {phase.cpu_share:.2f} cores ("
            + ", ".join(f"{k} {v / phase.seconds:.2f}" for k, v in phase.cpu.items())
            + f"); events p50 {phase.lag.stored_p50 * 1000:,.0f} ms, p99 {phase.lag.stored_p99 * 1000:,.0f} ms"
        )


# --- the real agent ------------------------------------------------------------------------------


@dataclass
class Real:
    """One school served by a real ``atelier edge run`` with simulated machines, which keep their own record."""

    root: Path
    site: str
    broker: Broker
    machines: list[str]
    cycles: int
    cycle_s: float
    process: Process | None = None

    def start(self) -> None:
        records = self.root / "records"
        records.mkdir(parents=True, exist_ok=True)
        machines = {
            m: sim_options(
                seed, self.cycles, cycle_s=0.8 * self.cycle_s, idle_s=0.2 * self.cycle_s,
                telemetry_interval_s=1.0, record_path=str(records / f"{m}.jsonl"),
            )
            for seed, m in enumerate(self.machines, start=1)
        }  # fmt: skip
        config = edge_toml(
            self.root / "edge.toml", agent=REAL_AGENT, site=self.site, broker=self.broker,
            state_dir=self.root / "edge", machines=machines,
        )  # fmt: skip
        self.process = Process(["edge", "run", "-c", str(config)], self.root / "edge.log")

    def cycles_made(self) -> int:
        total = 0
        for path in (self.root / "records").glob("*.jsonl"):
            total += sum(1 for line in path.read_text().splitlines() if line.strip())
        return total

    def done(self) -> bool:
        return self.cycles_made() >= self.cycles * len(self.machines)

    def last_seq(self) -> int:
        """The last seq the agent gave out, from its outbox's counter (read once the agent has stopped)."""
        with sqlite3.connect(f"file:{self.root / 'edge' / 'outbox.sqlite'}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return int(row[0]) - 1

    def replays(self) -> int:
        return (self.root / "edge.log").read_text().count("replaying seq")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def real_seqs_stored(pool: Pool, site: str) -> int:
    rows = pool.execute(
        "SELECT count(DISTINCT m.seq) FROM messages m JOIN agents a ON a.id = m.agent_id "
        "WHERE a.site = %s AND a.name = %s",
        site,
        REAL_AGENT,
    )
    return int(rows[0][0])


def real_cycles_stored(pool: Pool, site: str) -> int:
    rows = pool.execute(
        "SELECT count(*) FROM cycles c JOIN agents a ON a.id = c.agent_id WHERE a.site = %s AND a.name = %s",
        site,
        REAL_AGENT,
    )
    return int(rows[0][0])


# --- the run -------------------------------------------------------------------------------------------


def _specs(knobs: Knobs) -> list[site_load.SiteSpec]:
    machines = machine_names(knobs.machines)
    agents = max(1, math.ceil(knobs.machines / MACHINES_PER_AGENT))
    return [
        (site, [(f"pc-{a + 1}", tuple(machines[a::agents])) for a in range(agents)]) for site in knobs.generated_sites
    ]


def _totals(gens: Generators) -> tuple[dict[tuple[str, str], tuple[int, int]], int, int]:
    generated: dict[tuple[str, str], tuple[int, int]] = {}
    requests = replayed = 0
    for answer in gens.call("totals"):
        generated |= answer["agents"]
        requests += answer["replay_requests"]
        replayed += answer["replayed"]
    return generated, requests, replayed


def run() -> list[Figure]:
    knobs = Knobs.from_env()
    sites = [site_name(i) for i in range(knobs.sites)]
    real_site = sites[0] if knobs.real_agent else None
    print(
        f"== sites: {knobs.sites} schools x {knobs.machines} machines, each school's mosquitto bridged to one central "
        f"mosquitto; {knobs.gateways} gateways in a shared group on PostgreSQL; "
        f"{'1 real edge agent + ' if real_site else ''}{len(knobs.generated_sites)} generated schools",
        flush=True,
    )
    started = time.monotonic()
    with workdir("sites") as root, network(root, sites) as (central, schools):
        print(f"  {knobs.sites} bridges up after {time.monotonic() - started:.1f} s", flush=True)
        gens = Generators(_specs(knobs), knobs.processes)
        try:
            return _run(root, knobs, central=central, schools=schools, gens=gens, real_site=real_site)
        finally:
            gens.stop()


def _run(
    root: Path, knobs: Knobs, *, central: Broker, schools: dict[str, Broker], gens: Generators, real_site: str | None
) -> list[Figure]:
    to_schools = (central.host, {s: b.port for s, b in schools.items()}, True)
    gens.call("connect", central.host, {"*": central.port}, False)
    direct = raw_drain(central, gens, knobs.burst, "bl1")
    print(
        f"  no bridge: generators -> central broker -> mosquitto_sub -q 1: {direct.drained:,.0f} msg/s "
        f"(offered {direct.offered:,.0f}/s)",
        flush=True,
    )
    gens.call("connect", *to_schools)
    bridged = raw_drain(central, gens, knobs.burst, "bl2")
    print(
        f"  bridged: generators -> school brokers -> bridges -> mosquitto_sub: {bridged.drained:,.0f} msg/s "
        f"(offered {bridged.offered:,.0f}/s)",
        flush=True,
    )

    flush, reconnect_s = outage_flush(central, gens, knobs.burst, "bl3")
    print(
        f"  central broker stopped during a burst, then back: first message {reconnect_s:.1f} s later, "
        f"the bridges' queues flushed at {flush.drained:,.0f} msg/s",
        flush=True,
    )

    real: Real | None = None
    agent_lag: Lag | None = None
    (root / "pool").mkdir()
    with Pool(root / "pool", central, knobs.gateways) as pool, ExitStack() as cleanup:
        if real_site is not None:
            runs = 2 if knobs.aggregates else 1  # through the baseline and the run with aggregates
            cycles = max(1, round(runs * knobs.steady_s / knobs.cycle_s))
            machines = machine_names(knobs.machines)
            real = Real(root / "real", real_site, schools[real_site], machines, cycles, knobs.cycle_s)
            real.start()
            cleanup.callback(real.stop)
        probe = BusProbe(central, real_site)
        gens.call("births")
        births = sum(last for last, _ in _totals(gens)[0].values())
        # The pool's first meeting with every school's agents is a start-up burst, not the steady state.
        wait_until(lambda: pool.stored(except_site=real_site or "") >= births, 300, "the births in the store")
        steady_from = time.time() + WARMUP_S
        skip = real_site or ""
        base = steady_phase(pool, gens, knobs, probe, skip=skip, aggregates=False)
        _print_phase("steady", base, knobs)
        network = network_phase(pool, gens, knobs, probe, skip=skip) if knobs.aggregates else None
        probe.stop()
        expected = sum(last for last, _ in _totals(gens)[0].values())
        telemetry = base.telemetry + (network.phase.telemetry if network is not None else 0)
        if real is not None:
            wait_until(real.done, 300, "the real agent's simulators")
            wait_until(lambda: real_cycles_stored(pool, real.site) >= real.cycles_made(), 300, "the agent's cycles")
        steady = base.lag
        agent_lag = lags(pool, site=real_site, real=True, since=steady_from) if real is not None else None
        pool.execute("DROP TRIGGER bench_stamp ON messages")
        print(
            f"  steady runs: {expected:,} sequenced messages (with the births) and {telemetry:,} telemetry samples",
            flush=True,
        )

        replays = [_totals(gens)[1:]]
        burst, cpu, _ = pool_burst(pool, gens, knobs.burst)
        replays.append(_totals(gens)[1:])
        print(
            f"  burst: {burst.messages:,} messages, offered {burst.offered:,.0f}/s, pool {burst.drained:,.0f}/s "
            f"(10-90%: {burst.sustained:,.0f}/s); CPU s: " + ", ".join(f"{name} {s:.1f}" for name, s in cpu.items()),
            flush=True,
        )
        fault: Drain | None = None
        recovery = math.nan
        if knobs.kill and knobs.gateways > 1:
            fault, _, recovery = pool_burst(pool, gens, knobs.burst, kill=True)
            print(
                f"  burst with a kill: {fault.messages:,} messages, last stored {recovery:.1f} s after the kill",
                flush=True,
            )

        generated, requests, replayed = _totals(gens)
        replays.append((requests, replayed))
        if real is not None:  # stopped cleanly, it publishes what it still holds; then every seq it made must land
            real.stop()
            last = real.last_seq()
            with suppress(TimeoutError):  # what is missing then is counted as lost below
                wait_until(lambda: real_seqs_stored(pool, real.site) >= last, 120, "the agent's last seq in the store")
        check = exactness(pool, generated, real)
        deadlocks = pool.log_count("DeadlockDetected")
        retried = pool.log_count("not committed (store error)")
    bus = base.bus
    bus_p50, bus_p99 = percentile(bus, 50), percentile(bus, 99)
    figures = [
        Figure("steady lag, publish at school -> row committed, p50", steady.stored_p50 * 1000, "ms",
               "bare subscriber on the central broker p50", bus_p50 * 1000, "-"),
        Figure("steady lag, publish at school -> row committed, p99", steady.stored_p99 * 1000, "ms",
               "bare subscriber on the central broker p99", bus_p99 * 1000, "-"),
        Figure("pool burst throughput (10-90% stored)", burst.sustained, "events/s",
               "mosquitto_sub -q 1 on the central broker, bridged", bridged.drained, "-"),
        Figure("pool burst throughput (go to last row)", burst.drained, "events/s",
               "mosquitto_sub -q 1 on the central broker, bridged", bridged.drained, "-"),
        Figure("pool burst throughput (go to last row)", burst.drained, "events/s",
               "mosquitto_sub -q 1, published straight into the central broker", direct.drained, "-"),
        Figure("bridged stream drained by mosquitto_sub", bridged.drained, "msg/s",
               "same burst published straight into the central broker", direct.drained, "-"),
        Figure("bridge queues flushed after a central outage", flush.drained, "msg/s",
               "same burst bridged live", bridged.drained, "-"),
    ]  # fmt: skip
    if fault is not None:
        figures.append(Figure("pool burst with a gateway SIGKILLed and restarted (go to last row)", fault.drained,
                              "events/s", "the same burst, no kill", burst.drained, "-"))  # fmt: skip
    figures.append(Figure("sequenced messages stored exactly once", check.stored - check.doubled, "messages",
                          "generated", check.expected, "lost = doubled = 0"))  # fmt: skip
    if network is not None:
        figures += _network_figures(base, network)
    report(figures)
    if network is not None:
        _print_network(knobs, base, network)
    print(
        f"steady lag over {steady.rows:,} rows from the generated schools; publish -> gateway receives "
        f"p50 {steady.received_p50 * 1000:,.0f} ms, p99 {steady.received_p99 * 1000:,.0f} ms; "
        f"bare subscriber over {len(bus):,} messages (all from {WARMUP_S:.0f} s into the steady phase)"
    )
    if agent_lag is not None:
        print(
            f"real agent ({real_site}): source time -> row committed p50 {agent_lag.stored_p50 * 1000:,.0f} ms, "
            f"p99 {agent_lag.stored_p99 * 1000:,.0f} ms ({agent_lag.rows:,} rows; includes the outbox)"
        )
    print(
        f"offered by the generators: bursts {burst.offered:,.0f} msg/s with the pool, {bridged.offered:,.0f} bridged "
        f"and {direct.offered:,.0f} direct before it"
    )
    if fault is not None:
        print(
            f"gateway SIGKILLed mid-burst, restarted after {RESTART_S:.0f} s: {fault.messages:,} messages, "
            f"last row {recovery:.1f} s after the kill"
        )
    print(
        f"exactness: {check.stored:,} of {check.expected:,} sequenced messages stored, lost {check.lost}, "
        f"doubled {check.doubled}; cycles {check.cycles_stored:,} of {check.cycles_expected:,}; "
        f"dead letters {check.dead_letters}; replay requests answered {requests} ({replayed:,} messages resent)"
    )
    phases = ["steady", "burst", "burst with a kill" if fault is not None else "the end"]
    print(
        "replay requests answered by the generated schools (messages resent): "
        + ", ".join(
            f"{phase} {n - (replays[i - 1][0] if i else 0)} ({m - (replays[i - 1][1] if i else 0):,})"
            for i, (phase, (n, m)) in enumerate(zip(phases, replays, strict=True))
        )
    )
    if real is not None:
        print(f"replay requests answered by the real agent: {real.replays()}")
    print(
        f"gateway batches not committed and retried: {retried}, of which {deadlocks} PostgreSQL deadlocks "
        "between pool members (each costs deadlock_timeout, 1 s by default)"
    )
    for problem in check.problems[:10]:
        print(f"  PROBLEM {problem}")
    print(json.dumps({"knobs": knobs.__dict__}, default=str))
    return figures


if __name__ == "__main__":
    run()
