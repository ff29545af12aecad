"""Gateway sustained ingest of QoS 1 events, against the raw rate at which the same broker is drained.

Each reader gets the same backlog: a persistent session is created, the
events are published while it is away, then the reader comes back and the
clock runs until it has everything. ``mosquitto_sub -q 1`` and a bare paho
subscriber are the raw limits; the gateway must validate, dedupe and commit
each event (SQLite, then PostgreSQL) before it acknowledges it.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker
from bench.common import (
    PG_ADMIN_URL,
    Figure,
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
from harness import wait_until

AGENTS, MACHINES_PER_AGENT = 10, 10
TOPIC = "atelier/v1/#"


def _backlog(broker_: Broker, events: int) -> int:
    return publish_all(broker_, event_stream(AGENTS, MACHINES_PER_AGENT, events))


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


def gateway_rate(root: Path, events: int, db_url: str, count: Callable[[], int]) -> float:
    with broker(root / "broker") as b:
        process, _ = start_gateway(root, b, db_url)  # creates the persistent session
        process.stop()
        _backlog(b, events)
        process, _ = start_gateway(root, b, db_url)
        try:
            wait_until(lambda: count() > 0, 120, "the first batch")
            first_at, first = time.monotonic(), count()
            wait_until(lambda: count() >= events, 900, f"{events} events in the store", poll_s=0.02)
            return (events - first) / (time.monotonic() - first_at)
        finally:
            process.stop()


def sqlite_rate(root: Path, events: int) -> float:
    db = root / "gateway.sqlite"
    return gateway_rate(root, events, f"sqlite:///{db}", lambda: sqlite_count(db, "SELECT count(*) FROM messages"))


def postgres_rate(root: Path, events: int) -> float:
    name = f"atelier_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:

            def count() -> int:
                try:
                    row = conn.execute("SELECT count(*) FROM messages").fetchone()
                except psycopg.errors.UndefinedTable:
                    return 0
                return int(row[0]) if row else 0

            return gateway_rate(root, events, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", count)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run() -> list[Figure]:
    events = env_int("BENCH_INGEST_EVENTS", 50_000)
    print(f"== ingest: {events} QoS 1 events, {AGENTS} agents x {MACHINES_PER_AGENT} machines", flush=True)
    with workdir("ingest") as root:
        raw = mosquitto_sub_rate(root, events)
        print(f"mosquitto_sub -q 1 drains {raw:,.0f} msg/s", flush=True)
        bare = paho_rate(root, events)
        print(f"bare paho subscriber drains {bare:,.0f} msg/s", flush=True)
        (root / "sqlite").mkdir()
        lite = sqlite_rate(root / "sqlite", events)
        (root / "pg").mkdir()
        pg = postgres_rate(root / "pg", events)
    figures = [
        Figure("gateway ingest, SQLite", lite, "events/s", "mosquitto_sub -q 1", raw, ">= 0.50 x raw"),
        Figure("gateway ingest, PostgreSQL", pg, "events/s", "mosquitto_sub -q 1", raw, ">= 0.50 x raw"),
        Figure("gateway ingest, SQLite", lite, "events/s", "bare paho subscriber", bare, "-"),
        Figure("gateway ingest, PostgreSQL", pg, "events/s", "bare paho subscriber", bare, "-"),
    ]
    report(figures)
    return figures
