"""Outbox: a million events buffered during a broker outage, then drained; rate and zero loss.

The events go into the agent's real outbox while no broker listens, then the
broker starts and the real publisher drains it. A ``mosquitto_sub`` with a
persistent session (so it misses nothing) reads every payload and the
benchmark checks each seq arrived. Baseline: a bare paho client publishing the
same payloads at QoS 1 straight from memory, with no disk in between.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from atelier.broker import Broker
from bench.common import Figure, env_int, prime_session, publish_all, report, workdir
from edge_agent import contract
from edge_agent.config import BrokerSection
from edge_agent.drafts import Draft
from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher
from harness import wait_until

SITE, AGENT, MACHINE = "bench", "bench-agent", "m1"
_SEQ = re.compile(rb'"seq":(\d+)')


def fill(outbox: Outbox, events: int, chunk: int = 5000) -> float:
    """Store ``events`` part-counted events; return the rate."""
    started = time.monotonic()
    now = datetime.now(UTC)
    for first in range(0, events, chunk):
        drafts = [
            Draft(contract.PartCounted, now, {"count": 1, "counter": first + i, "program": "P1"})
            for i in range(min(chunk, events - first))
        ]
        outbox.put(MACHINE, drafts)
    return events / (time.monotonic() - started)


class SeqReader:
    """``mosquitto_sub`` in its own process; a thread collects the seq of each event payload."""

    def __init__(self, broker_: Broker) -> None:
        command = ["mosquitto_sub", "-h", broker_.host, "-p", str(broker_.port), "-i", "bench-outbox-sub", "-c"]
        command += ["-q", "1", "-t", contract.machine_topic(SITE, MACHINE, "event")]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE)
        self.seqs: set[int] = set()
        self.received = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = _SEQ.search(line)
            if match:
                self.seqs.add(int(match.group(1)))
                self.received += 1

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


async def drain(outbox: Outbox, broker_: Broker, events: int, reader: SeqReader) -> float:
    section = BrokerSection(host=broker_.host, port=broker_.port, reconnect_min_s=0.1, reconnect_max_s=0.5)
    publisher = Publisher(section, outbox, machines=(MACHINE,), max_inflight=200)
    started = time.monotonic()
    task = asyncio.create_task(publisher.run())
    while outbox.stats().unsent_events > 0 and not task.done():  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    publisher.stop()
    await task
    return events / elapsed


def raw_publish_rate(root: Path, broker_: Broker, count: int) -> float:
    payload = b'{"schema":1,"agent":"bench-agent","machine":"m1","seq":1,"type":"part_counted"}'
    topic = contract.machine_topic(SITE, "raw", "event")
    started = time.monotonic()
    publish_all(broker_, ((topic, payload) for _ in range(count)))
    return count / (time.monotonic() - started)


def run() -> list[Figure]:
    events = env_int("BENCH_OUTBOX_EVENTS", 1_000_000)
    print(f"== outbox: {events} events buffered during an outage, then drained", flush=True)
    with workdir("outbox") as root:
        b = Broker(data_dir=root / "broker")
        b.start()
        prime_session(b, "bench-outbox-sub", contract.machine_topic(SITE, MACHINE, "event"))
        baseline = raw_publish_rate(root, b, min(events, 200_000))
        print(f"bare paho publisher (QoS 1, from memory): {baseline:,.0f} msg/s", flush=True)
        b.stop()  # the outage
        outbox = Outbox(
            root / "outbox.sqlite", agent=AGENT, site=SITE, event_budget=10 * events, telemetry_budget=1000,
            retention_s=3600,
        )  # fmt: skip
        print(f"stored {events} events at {fill(outbox, events):,.0f} events/s while the broker was down", flush=True)
        b.start()
        reader = SeqReader(b)
        try:
            rate = asyncio.run(drain(outbox, b, events, reader))
            wait_until(lambda: reader.received >= events, 300, "the subscriber to read every event")
        finally:
            reader.close()
            b.stop()
            outbox.close()
        lost = events - len(reader.seqs & set(range(1, events + 1)))
        doubled = reader.received - len(reader.seqs)
    print(f"drained {events} events at {rate:,.0f} events/s; lost {lost}, received twice {doubled}", flush=True)
    figures = [Figure("outbox drain", rate, "events/s", "bare paho publisher", baseline, ">= 5,000 events/s, 0 lost")]
    report(figures)
    if lost:
        raise SystemExit(f"outbox benchmark lost {lost} events")
    return figures
