"""OPC UA into one agent: 10 controls x 50 monitored items changing at 10 Hz.

``python -m bench.opcua_latency``. The controls run in one child process
(``--serve``), each an asyncua server writing all its items every 100 ms with
the write time as source timestamp. Two clients watch them in the same window:

- the edge agent (``python -m atelier edge run``), item 0 of each control read
  as ``spindle_speed``, a telemetry field; the latency is MQTT arrival at a
  subscriber minus the telemetry message's ``ts`` (the source timestamp of the
  newest notification in it). The agent samples telemetry once a second per
  machine by default (``BENCH_OPCUA_TELEMETRY_S``; 0.01 publishes every
  notification, 100 messages a second, each one an outbox commit);
- the baseline, a bare asyncua client (``--raw``) with the same subscriptions,
  whose latency is the notification's arrival minus the same source timestamp.
  It uses asyncua's handler interface, as asyncua's examples do (asyncua runs
  one task per notification for it); the agent drains asyncua's queue instead.

Item 1..49 reach the agent's normaliser and are dropped there (no profile claims
them): they cost the agent the same transport and decoding work as real signals.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from asyncua import Client, Server, ua
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker, free_port
from bench.common import Figure, Process, broker, env_int, percentile, report, rss_mb, workdir
from harness import wait_until

CONTROLS = env_int("BENCH_OPCUA_CONTROLS", 10)
ITEMS = env_int("BENCH_OPCUA_ITEMS", 50)
RATE_HZ = 10
WARMUP_S = env_int("BENCH_OPCUA_WARMUP_S", 8)
WINDOW_S = env_int("BENCH_OPCUA_WINDOW_S", 30)
# Writing 5,000 values a second is more than one Python process can do next to the clients.
CONTROL_PROCESSES = env_int("BENCH_OPCUA_CONTROL_PROCESSES", 2)
# The agent's default: one telemetry sample a second per machine. 0.01 publishes every notification.
TELEMETRY_S = float(os.environ.get("BENCH_OPCUA_TELEMETRY_S", "1.0"))
PUBLISHING_MS = 50
NS_URI = "urn:atelier:bench"
SITE = "bench"
TICKS = os.sysconf("SC_CLK_TCK")


def node_ids() -> dict[str, str]:
    ids = {f"item{i}": f"nsu={NS_URI};s=item{i}" for i in range(ITEMS)}
    ids["spindle_speed"] = ids.pop("item0")  # the one the agent publishes
    return ids


# --- the controls (child process) --------------------------------------------------------------


async def serve(ports: list[int]) -> None:
    servers: list[tuple[Server, list[ua.NodeId]]] = []
    for port in ports:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(NS_URI)
        folder = await server.nodes.objects.add_object(ns, "Bench")
        nodes = [await folder.add_variable(ua.NodeId(f"item{i}", ns), f"item{i}", 0.0) for i in range(ITEMS)]
        await server.start()
        servers.append((server, [node.nodeid for node in nodes]))
    print("ready", flush=True)
    tick = 0
    next_at = time.monotonic()
    while True:
        tick += 1
        for server, ids in servers:
            ts = datetime.now(UTC)  # per control: each control stamps its own write
            for i, node_id in enumerate(ids):
                value = ua.DataValue(ua.Variant(float(tick * 100 + i), ua.VariantType.Double), SourceTimestamp=ts)
                await server.write_attribute_value(node_id, value)
        next_at += 1 / RATE_HZ
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


# --- the baseline: a bare asyncua client (child process) -----------------------------------------


class _Latencies:
    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (arrival wall time, latency s)

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        if node.nodeid.Identifier != "item0":
            return
        source = data.monitored_item.Value.SourceTimestamp
        now = time.time()
        self.samples.append((now, now - source.replace(tzinfo=UTC).timestamp()))


async def raw(ports: list[int], run_s: float, out: Path) -> None:
    handler = _Latencies()
    clients = []
    for port in ports:
        client = Client(f"opc.tcp://127.0.0.1:{port}/")
        await client.connect()
        ns = await client.get_namespace_index(NS_URI)
        subscription = await client.create_subscription(
            ua.CreateSubscriptionParameters(RequestedPublishingInterval=PUBLISHING_MS, RequestedLifetimeCount=300),
            handler,
        )
        nodes = [client.get_node(ua.NodeId(f"item{i}", ns)) for i in range(ITEMS)]
        await subscription.subscribe_data_change(nodes, sampling_interval=0)
        clients.append(client)
    await asyncio.sleep(run_s)
    await asyncio.to_thread(out.write_text, json.dumps(handler.samples))
    for client in clients:
        await client.disconnect()


# --- the run -------------------------------------------------------------------------------------


def agent_config(root: Path, bus: Broker, ports: list[int]) -> Path:
    lines = [
        f'[agent]\nid = "bench-pc"\nsite = "{SITE}"\nstate_dir = "{root / "edge"}"\n',
        f'[broker]\nhost = "{bus.host}"\nport = {bus.port}\n',
    ]
    nodes = "{ " + ", ".join(f'{k} = "{v}"' for k, v in node_ids().items()) + " }"
    for n, port in enumerate(ports):
        lines.append(
            f'[[machines]]\nid = "ua-{n:02d}"\ndriver = "opcua"\ntelemetry_interval_s = {TELEMETRY_S}\n'
            f'[machines.options]\nendpoint = "opc.tcp://127.0.0.1:{port}/"\nmode = "subscribe"\n'
            f"publishing_interval_ms = {PUBLISHING_MS}\nsampling_interval_ms = 0\nnodes = {nodes}\n"
        )
    path = root / "edge.toml"
    path.write_text("\n".join(lines))
    return path


class TelemetryLatency:
    """MQTT subscriber: arrival time minus each telemetry message's ts."""

    def __init__(self, bus: Broker) -> None:
        self.samples: list[tuple[float, float]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-opcua-sub")
        self.client.on_message = self._message
        self.client.connect(bus.host, bus.port)
        self.client.subscribe(f"atelier/v1/{SITE}/+/telemetry", qos=0)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        ts = datetime.fromisoformat(json.loads(message.payload)["ts"].replace("Z", "+00:00"))
        self.samples.append((now, now - ts.timestamp()))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def window(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [latency * 1000 for at, latency in samples if start <= at <= end]


def child(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.opcua_latency", *args], stdout=subprocess.PIPE, stderr=handle
        )


def run() -> list[Figure]:
    ports = [free_port() for _ in range(CONTROLS)]
    port_args = ",".join(map(str, ports))
    with workdir("opcua") as root, broker(root) as bus:
        controls = [
            child(["--serve", ",".join(map(str, ports[n::CONTROL_PROCESSES]))], root / "controls.log")
            for n in range(CONTROL_PROCESSES)
        ]
        for process in controls:
            assert process.stdout is not None
            if process.stdout.readline().strip() != b"ready":
                raise RuntimeError(f"the controls did not start: {(root / 'controls.log').read_text()[-2000:]}")
        subscriber = TelemetryLatency(bus)
        agent = Process(["edge", "run", "-c", str(agent_config(root, bus, ports))], root / "edge.log")
        baseline = child(["--raw", port_args, str(WARMUP_S + WINDOW_S + 2), str(root / "raw.json")], root / "raw.log")
        try:
            wait_until(lambda: len(subscriber.samples) > CONTROLS * 2, 60, "telemetry from the agent")
            time.sleep(WARMUP_S)
            start, agent_cpu, raw_cpu = time.time(), cpu_seconds(agent.pid), cpu_seconds(baseline.pid)
            rss = [rss_mb(agent.pid)]
            raw_rss = [rss_mb(baseline.pid)]
            while time.time() - start < WINDOW_S:
                time.sleep(1.0)
                rss.append(rss_mb(agent.pid))
                raw_rss.append(rss_mb(baseline.pid))
            end = time.time()
            agent_cpu = (cpu_seconds(agent.pid) - agent_cpu) / (end - start) * 100
            raw_cpu = (cpu_seconds(baseline.pid) - raw_cpu) / (end - start) * 100
            baseline.wait(WINDOW_S + 60)
        finally:
            agent.stop()
            subscriber.close()
            for process in (baseline, *controls):
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        raw_samples = [(at, latency) for at, latency in json.loads((root / "raw.json").read_text())]
        latencies = (window(subscriber.samples, start, end), window(raw_samples, start, end))
        return figures(latencies, (agent_cpu, raw_cpu), (max(rss), max(raw_rss)))


def figures(
    latencies: tuple[list[float], list[float]], cpus: tuple[float, float], rsss: tuple[float, float]
) -> list[Figure]:
    """Each pair is (agent, raw asyncua client)."""
    (agent, raw_ms), (cpu, raw_cpu), (rss, raw_rss) = latencies, cpus, rsss
    p99, raw_p99 = percentile(agent, 99), percentile(raw_ms, 99)
    achieved = len(raw_ms) / WINDOW_S / CONTROLS
    print(f"{CONTROLS} controls x {ITEMS} items, {RATE_HZ} Hz asked, {achieved:.1f} Hz achieved, {WINDOW_S} s window, "
          f"telemetry every {TELEMETRY_S} s: {len(agent)} agent messages, {len(raw_ms)} raw notifications of item 0",
          flush=True)  # fmt: skip
    found = [
        Figure("agent latency p50", percentile(agent, 50), "ms", "raw asyncua p50", percentile(raw_ms, 50), "-"),
        Figure("agent latency p99", p99, "ms", "raw asyncua p99", raw_p99, f"<= {raw_p99 + 20:.1f} ms (raw + 20)"),
        Figure("agent RSS (peak)", rss, "MB", "raw asyncua client RSS", raw_rss, "< 80 MB"),
        Figure("agent CPU", cpu, "% of one core", "raw asyncua client CPU", raw_cpu, "< 15 %"),
    ]
    report(found)
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        asyncio.run(serve([int(p) for p in argv[1].split(",")]))
    elif argv[:1] == ["--raw"]:
        asyncio.run(raw([int(p) for p in argv[1].split(",")], float(argv[2]), Path(argv[3])))
    else:
        run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
