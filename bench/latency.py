"""End-to-end latency, edge event (its source time) to the status page's WebSocket, at 100 simulated machines.

The whole chain runs as in a workshop: one edge agent with 100 simulated
machines, mosquitto, one gateway. A WebSocket client on ``/ws/status`` notes,
for each machine update whose ``last_cycle_end`` moved, how long after that
source time it arrived. Baseline: a bare paho subscriber on the same broker
timing the same ``cycle_ended`` events (edge → broker → subscriber only).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import websockets
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker
from bench.common import Figure, env_int, percentile, report, workdir
from harness import Chain, sim_options


def _age_ms(iso: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds() * 1000


def build_chain(root: Path, b: Broker, machines: int) -> Chain:
    chain = Chain(root=root, broker=b, telemetry_interval_s=1.0)
    for i in range(machines):
        chain.add_machine(f"m{i:03d}", sim_options(i + 1, cycles=100_000, cycle_s=2.0, idle_s=0.5))
    return chain


class BusTimer:
    """Bare paho subscriber: age of each cycle_ended event when it reaches the subscriber."""

    def __init__(self, b: Broker) -> None:
        self.ages: list[float] = []
        self.measuring = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-latency", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(b.host, b.port)
        self.client.subscribe("atelier/v1/+/+/event", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if not self.measuring.is_set():
            return
        event = json.loads(message.payload)
        if event.get("type") == "cycle_ended":
            self.ages.append(_age_ms(event["ts"]))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def page_ages(port: int, seconds: float, warmup_s: float, timer: BusTimer) -> list[float]:
    ages: list[float] = []
    last: dict[str, str] = {}
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/status", max_size=None) as socket:
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < warmup_s + seconds:
            if elapsed >= warmup_s:
                timer.measuring.set()
            try:
                raw = await asyncio.wait_for(socket.recv(), 1.0)
            except TimeoutError:
                continue
            message = json.loads(raw)
            views = message["machines"] if message["type"] == "snapshot" else [message["machine"]]
            for view in views:
                end = view.get("last_cycle_end")
                if end and last.get(view["id"]) != end:
                    if message["type"] == "machine" and timer.measuring.is_set():
                        ages.append(_age_ms(end))
                    last[view["id"]] = end
    timer.measuring.clear()
    return ages


def run() -> list[Figure]:
    machines, seconds = env_int("BENCH_LATENCY_MACHINES", 100), env_int("BENCH_LATENCY_SECONDS", 60)
    print(f"== latency: {machines} simulated machines, {seconds} s measured", flush=True)
    with workdir("latency") as root:
        b = Broker(data_dir=root / "broker")
        b.start()
        chain = build_chain(root, b, machines)
        timer = BusTimer(b)
        try:
            chain.start()
            page = asyncio.run(page_ages(chain.http_port, seconds, 10.0, timer))
        finally:
            timer.close()
            chain.stop()
            b.stop()
    bus = timer.ages
    print(f"{len(page)} cycle ends timed on the page, {len(bus)} on the bus", flush=True)
    figures = [
        Figure("edge → page p50", percentile(page, 50), "ms", "edge → bare subscriber p50", percentile(bus, 50), "-"),
        Figure(
            "edge → page p99", percentile(page, 99), "ms", "edge → bare subscriber p99", percentile(bus, 99), "< 250 ms"
        ),
    ]
    report(figures)
    return figures
