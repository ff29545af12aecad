"""Gateway sustained ingest of QoS 1 events, against raw subscribers and hand-written scripts, in the same run.

Each reader gets the same backlog on a broker of its own: a persistent session
is created, the events are published while it is away, then the reader comes
back and the clock runs until it has everything. ``mosquitto_sub -q 1`` and a
bare paho subscriber are the raw limits; the gateway must validate, dedupe and
commit each event (SQLite, then PostgreSQL) before it acknowledges it; the
hand-written scripts of issue 21 (``bench/handwritten.py``: paho, one row per
event, ``executemany`` batches of 500, acknowledged on receipt) are what a
school could use instead. Every reader that writes is timed the same way: from
its first row in the store to its last. The rounds take the readers in a
rotating order, and the medians are reported.

Then each writing reader drains a backlog again, is SIGKILLed (with its
children) once half of it is stored, is restarted, and drains the rest: what is
missing is lost, what is stored twice is doubled.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker
from bench.common import (
    PG_ADMIN_URL,
    Figure,
    Process,
    broker,
    env_int,
    event_stream,
    prime_session,
    publish_all,
    report,
    sqlite_count,
    start_gateway,
    workdir,
)
from edge_agent import contract
from harness import wait_until

AGENTS, MACHINES_PER_AGENT = 10, 10
TOPIC = "atelier/v1/#"
SETTLE_S = 5.0  # after a restart, a store that has not grown for this long has all it will get
SCRIPT_ID = "bench-script"

# Rows stored twice: the gateway's tables with a seq, and its state changes by machine and time.
GATEWAY_DOUBLED = (
    "SELECT (SELECT count(*) - count(DISTINCT agent_id || '/' || seq) FROM messages)"
    " + (SELECT count(*) - count(DISTINCT agent_id || '/' || seq) FROM cycles)"
    " + (SELECT count(*) - count(DISTINCT agent_id || '/' || seq) FROM part_counts)"
    " + (SELECT count(*) - count(DISTINCT machine_id || '/' || ts) FROM state_changes)"
)
# The gateway's rows of each kind of event, each counted once: (the event type, what tells two rows apart).
DISTINCT_ROWS = {
    "cycles": ("cycle_ended", "agent_id || '/' || seq"),
    "part_counts": ("part_counted", "agent_id || '/' || seq"),
    "state_changes": ("state_changed", "machine_id || '/' || ts"),
}
SCRIPT_DOUBLED = "SELECT count(*) - count(DISTINCT agent || '/' || seq) FROM events"


def _backlog(broker_: Broker, events: int) -> int:
    return publish_all(broker_, event_stream(AGENTS, MACHINES_PER_AGENT, events))


def _expected_rows(events: int) -> dict[str, int]:
    """How many rows of each kind the stream gives the gateway (statuses have no seq and no row of these)."""
    kinds: dict[str, int] = {}
    for topic, payload in event_stream(AGENTS, MACHINES_PER_AGENT, events):
        if topic.endswith("/event"):
            message = contract.decode(topic, payload)[1]
            assert isinstance(message, contract.EVENT_TYPES)
            kinds[message.type] = kinds.get(message.type, 0) + 1
    return kinds


# --- the raw limits ---------------------------------------------------------------------------------


def mosquitto_sub_rate(root: Path, events: int) -> float:
    with broker(root / "raw") as b:
        prime_session(b, "bench-raw")
        total = _backlog(b, events)
        command = ["mosquitto_sub", "-h", b.host, "-p", str(b.port), "-i", "bench-raw", "-c", "-q", "1"]
        started = time.monotonic()
        subprocess.run([*command, "-t", TOPIC, "-C", str(total)], stdout=subprocess.DEVNULL, check=True, timeout=600)
        return total / (time.monotonic() - started)


def paho_rate(root: Path, events: int) -> float:
    with broker(root / "paho") as b:
        prime_session(b, "bench-paho")
        total = _backlog(b, events)
        done = threading.Event()
        received = 0

        def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
            nonlocal received
            received += 1
            if received >= total:
                done.set()

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv311, clean_session=False
        )
        client.on_message = on_message
        started = time.monotonic()
        client.connect(b.host, b.port)
        client.loop_start()
        try:
            if not done.wait(600):
                raise TimeoutError(f"paho received {received} of {total}")
            return total / (time.monotonic() - started)
        finally:
            client.disconnect()
            client.loop_stop()


# --- stores and the readers that write into them --------------------------------------------------------


@dataclass
class Store:
    """Where a writing reader writes: its url, and two queries the benchmark asks of it."""

    url: str  # as the reader takes it
    query: Callable[[str], int]  # a query returning one integer; 0 while the table does not exist

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) FROM {table}")


@contextmanager
def sqlite_store(path: Path, *, gateway: bool) -> Iterator[Store]:
    yield Store(f"sqlite:///{path}" if gateway else str(path), lambda sql: sqlite_count(path, sql))


@contextmanager
def postgres_store(*, gateway: bool) -> Iterator[Store]:
    name = f"atelier_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:

            def query(sql: str) -> int:
                try:
                    row = conn.execute(sql).fetchone()
                except psycopg.errors.UndefinedTable:
                    return 0
                return int(row[0]) if row and row[0] is not None else 0

            driver = "postgresql+psycopg" if gateway else "postgresql"
            yield Store(f"{driver}://postgres@127.0.0.1:5432/{name}", query)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Reader:
    """A reader that writes each event into a store: the gateway, or a hand-written script."""

    name: str
    dialect: str  # sqlite or postgresql
    gateway: bool

    @property
    def slug(self) -> str:
        return f"{'gateway' if self.gateway else 'script'}-{self.dialect}"

    @property
    def table(self) -> str:
        return "messages" if self.gateway else "events"

    @contextmanager
    def store(self, root: Path) -> Iterator[Store]:
        if self.dialect == "sqlite":
            with sqlite_store(root / f"{self.name}.sqlite", gateway=self.gateway) as store:
                yield store
        else:
            with postgres_store(gateway=self.gateway) as store:
                yield store

    def start(self, root: Path, b: Broker, store: Store) -> Process:
        if self.gateway:
            return start_gateway(root, b, store.url, gateway_id="bench-gw")[0]
        args = [self.dialect, store.url, b.host, str(b.port), SCRIPT_ID]
        return Process(args, root / f"{self.name}.log", module="bench.handwritten")

    def prime(self, root: Path, b: Broker, store: Store) -> None:
        """The reader's persistent session, so that the backlog waits for it."""
        if self.gateway:
            start_gateway(root, b, store.url, gateway_id="bench-gw")[0].stop()
        else:
            prime_session(b, SCRIPT_ID)

    def doubled(self, store: Store) -> int:
        return store.query(GATEWAY_DOUBLED if self.gateway else SCRIPT_DOUBLED)


READERS = (
    Reader("gateway → SQLite", "sqlite", gateway=True),
    Reader("sqlite3 script", "sqlite", gateway=False),
    Reader("gateway → PostgreSQL", "postgresql", gateway=True),
    Reader("psycopg script", "postgresql", gateway=False),
)


def drain_rate(reader: Reader, root: Path, events: int) -> float:
    """Events a second from the reader's first row in the store to its last."""
    root.mkdir(parents=True)
    with broker(root / "broker") as b, reader.store(root) as store:
        reader.prime(root, b, store)
        _backlog(b, events)
        process = reader.start(root, b, store)
        try:
            wait_until(lambda: store.count(reader.table) > 0, 120, f"{reader.name}: the first rows")
            first_at, first = time.monotonic(), store.count(reader.table)
            wait_until(lambda: store.count(reader.table) >= events, 900, f"{reader.name}: {events} events", poll_s=0.02)
            return (events - first) / (time.monotonic() - first_at)
        finally:
            process.stop()


@dataclass(frozen=True)
class Killed:
    stored: int
    lost: int
    doubled: int
    detail: str


def kill_and_restart(reader: Reader, root: Path, events: int) -> Killed:
    """Drain a backlog, SIGKILL the reader once half is stored, restart it, drain what is left."""
    root.mkdir(parents=True)
    with broker(root / "broker") as b, reader.store(root) as store:
        reader.prime(root, b, store)
        _backlog(b, events)
        process = reader.start(root, b, store)
        try:
            wait_until(lambda: store.count(reader.table) >= events // 2, 900, f"{reader.name}: half", poll_s=0.01)
            process.kill_group()
            at_kill = store.count(reader.table)
            process = reader.start(root, b, store)
            _settle(lambda: store.count(reader.table), events)
        finally:
            process.stop()
        stored = store.count(reader.table)
        lost = events - stored
        detail = f"killed at {at_kill:,}"
        if reader.gateway:  # a message stored without its cycle, part count or state change is lost too
            expected = _expected_rows(events)
            for table, (kind, distinct) in DISTINCT_ROWS.items():
                rows = store.query(f"SELECT count(DISTINCT {distinct}) FROM {table}")
                lost += max(0, expected[kind] - rows)
                detail += f"; {table} {rows:,} of {expected[kind]:,}"
        return Killed(stored, lost, reader.doubled(store), detail)


def _settle(count: Callable[[], int], events: int) -> None:
    """Until everything is stored, or nothing more arrives for ``SETTLE_S``."""
    last, since = count(), time.monotonic()
    while last < events and time.monotonic() - since < SETTLE_S:
        time.sleep(0.1)
        now = count()
        if now != last:
            last, since = now, time.monotonic()


# --- the run ---------------------------------------------------------------------------------------------


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min) {five:.2f} (5 min), {os.cpu_count()} cores"


def run() -> list[Figure]:
    events = env_int("BENCH_INGEST_EVENTS", 50_000)
    rounds = env_int("BENCH_INGEST_ROUNDS", 3)
    kill_events = env_int("BENCH_INGEST_KILL_EVENTS", events)
    print(
        f"== ingest: {events} QoS 1 events, {AGENTS} agents x {MACHINES_PER_AGENT} machines, {rounds} round(s); "
        f"{_load()}",
        flush=True,
    )
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    with workdir("ingest") as root:
        for n in range(rounds):
            here = root / f"round-{n}"
            raw = mosquitto_sub_rate(here, events)
            bare = paho_rate(here, events)
            measured = {"mosquitto_sub -q 1": raw, "bare paho subscriber": bare}
            turn = n % len(READERS)
            for reader in READERS[turn:] + READERS[:turn]:  # a rotating order: no reader always goes first
                measured[reader.name] = drain_rate(reader, here / reader.slug, events)
            print(f"-- round {n + 1} of {rounds}; {_load()}", flush=True)
            for name, rate in measured.items():
                rates.setdefault(name, []).append(rate)
                ratios.setdefault(name, []).append(rate / bare)
                print(f"   {name}: {rate:,.0f} events/s, {rate / bare:.2f} x bare paho", flush=True)
        killed: dict[str, Killed] = {}
        if kill_events:
            print(f"-- SIGKILL at 50 % of {kill_events:,} events, restart, drain", flush=True)
            for reader in READERS:
                killed[reader.name] = k = kill_and_restart(reader, root / "kill" / reader.slug, kill_events)
                print(f"   {reader.name}: {k.stored:,} stored, {k.lost:,} lost, {k.doubled:,} doubled ({k.detail})")
            print(f"   {_load()}", flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    ratio = {name: statistics.median(values) for name, values in ratios.items()}
    print(f"-- medians of {rounds} round(s)", flush=True)
    for name, rate in median.items():
        after = killed.get(name)
        tail = f" | after SIGKILL: {after.lost:,} lost, {after.doubled:,} doubled" if after else ""
        print(f"   {name}: {rate:,.0f} events/s, {ratio[name]:.2f} x bare paho{tail}", flush=True)
    # The load of a shared machine moves between rounds more than any two readers differ: set each gateway
    # against its script in the same round.
    for gateway, script in (("gateway → SQLite", "sqlite3 script"), ("gateway → PostgreSQL", "psycopg script")):
        same = [g / s for g, s in zip(rates[gateway], rates[script], strict=True)]
        each = ", ".join(f"{r:.2f}" for r in same)
        print(f"   {gateway} / {script}, same round: {each}; median {statistics.median(same):.2f}", flush=True)
    raw, bare = median["mosquitto_sub -q 1"], median["bare paho subscriber"]
    lite, pg = median["gateway → SQLite"], median["gateway → PostgreSQL"]
    figures = [
        Figure("gateway ingest, SQLite", lite, "events/s", "sqlite3 script", median["sqlite3 script"], ">= 1.00"),
        Figure("gateway ingest, PostgreSQL", pg, "events/s", "psycopg script", median["psycopg script"], ">= 1.00"),
        Figure("gateway ingest, SQLite", lite, "events/s", "bare paho subscriber", bare, "-"),
        Figure("gateway ingest, PostgreSQL", pg, "events/s", "bare paho subscriber", bare, "-"),
        Figure("gateway ingest, SQLite", lite, "events/s", "mosquitto_sub -q 1", raw, ">= 0.50 x raw"),
        Figure("gateway ingest, PostgreSQL", pg, "events/s", "mosquitto_sub -q 1", raw, ">= 0.50 x raw"),
    ]
    report(figures)
    return figures
