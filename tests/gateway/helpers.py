"""Test helpers for the gateway: a plain paho publisher speaking the contract, bounded waits, store queries."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker
from edge_agent import contract as c

SITE = "lyon"
AGENT = "pc-1"
MACHINE = "dmg-mill-1"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def gateway_toml(
    broker: Broker, db_path: Path, *, http_port: int = 8000, gateway_id: str = "test", **ingest: Any
) -> str:
    ingest = {"batch_ms": 20, "gap_timeout_s": 5.0, **ingest}
    ingest_lines = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in ingest.items())
    return (
        f'[gateway]\nid = "{gateway_id}"\nsite = "+"\n\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive_s = 5\n\n'
        f'[database]\nurl = "sqlite:///{db_path}"\n\n'
        f"[ingest]\n{ingest_lines}\n\n"
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n'
    )


class Publisher:
    """An edge agent reduced to its wire: publishes contract messages with a plain paho client."""

    def __init__(self, broker: Broker, *, client_id: str = "", will: c.AgentStatus | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if will is not None:
            self.client.will_set(c.agent_topic(SITE, will.agent, "status"), c.encode(will), qos=1, retain=True)
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()

    def raw(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(timeout=10)

    def send(self, message: c.Message, *, site: str = SITE, retain: bool | None = None) -> None:
        match message:
            case c.AgentStatus():
                topic, keep = c.agent_topic(site, message.agent, "status"), True
            case c.StateMessage():
                topic, keep = c.machine_topic(site, message.machine, "state"), True
            case c.Telemetry():
                topic, keep = c.machine_topic(site, message.machine, "telemetry"), False
            case c.ReplayRequest():
                raise ValueError("a publisher does not send replay requests")
            case _:
                topic, keep = c.machine_topic(site, message.machine, "event"), False
        self.raw(topic, c.encode(message), retain=keep if retain is None else retain)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


AGENT_SCRIPT = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
host, port, will_topic, will = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="edge-agent-under-test", protocol=mqtt.MQTTv5)
client.will_set(will_topic, will, qos=1, retain=True)
client.connect(host, port, keepalive=5)
client.loop_start()
for line in sys.stdin:
    topic, payload, retain = line.rstrip("\\n").split("\\t")
    client.publish(topic, payload.encode(), qos=1, retain=retain == "1").wait_for_publish(10)
    print("sent", flush=True)
time.sleep(3600)
"""


class AgentProcess:
    """A process holding an MQTT connection with a Last Will, to be SIGKILLed like a crashed agent."""

    def __init__(self, broker: Broker, will: c.AgentStatus, site: str = SITE) -> None:
        topic = c.agent_topic(site, will.agent, "status")
        self.process = subprocess.Popen(
            [sys.executable, "-c", AGENT_SCRIPT, broker.host, str(broker.port), topic, c.encode(will).decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, topic: str, message: c.Message, *, retain: bool) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{topic}\t{c.encode(message).decode()}\t{int(retain)}\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "sent"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def birth(*machines: str, agent: str = AGENT, status: str = "online") -> c.AgentStatus:
    return c.AgentStatus(agent=agent, ts=T0, status=status, version="0.1.0", machines=machines or (MACHINE,))


def state(
    seq: int, *, machine: str = MACHINE, execution: c.Execution = c.Execution.ACTIVE, **fields: Any
) -> c.StateMessage:
    st = c.MachineState(availability=c.Availability.AVAILABLE, execution=execution, mode=c.Mode.AUTOMATIC, **fields)
    return c.StateMessage(agent=AGENT, machine=machine, seq=seq, ts=T0 + timedelta(seconds=seq), state=st)


def part(seq: int, *, machine: str = MACHINE, counter: int | None = None) -> c.PartCounted:
    return c.PartCounted(
        agent=AGENT, machine=machine, seq=seq, ts=T0 + timedelta(seconds=seq), count=1, counter=counter, program="P1"
    )


def changed(seq: int, execution: c.Execution, *, machine: str = MACHINE) -> c.StateChanged:
    return c.StateChanged(
        agent=AGENT,
        machine=machine,
        seq=seq,
        ts=T0 + timedelta(seconds=seq),
        availability=c.Availability.AVAILABLE,
        execution=execution,
        mode=c.Mode.AUTOMATIC,
    )


def wait_until(predicate: Callable[[], Any], *, timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def until(predicate: Callable[[], Any], *, timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@contextmanager
def sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=10)) as conn:
        yield conn


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    with sqlite(path) as conn:
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []


def count(path: Path, table: str) -> int:
    found = rows(path, f"SELECT count(*) FROM {table}")
    return int(found[0][0]) if found else 0


def subscribed(http_port: int) -> bool:
    """True once the gateway's subscriptions are acknowledged (so nothing published from now on is missed)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/health", timeout=2) as response:
            return bool(json.loads(response.read())["subscribed"])
    except OSError:
        return False
