"""The InfluxDB sink on its own, against a real server speaking the InfluxDB v2 write API (victoria-metrics).

The points are read back through victoria-metrics' /api/v1/export and compared.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from atelier.broker import free_port
from edge_agent import contract as c
from gateway.influx import InfluxSettings, InfluxSink, lines_of, state_line, telemetry_line
from gateway.ingest.messages import Accepted
from tests.gateway.victoria import VictoriaMetrics

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _settings(url: str, **changes: object) -> InfluxSettings:
    values: dict[str, object] = {"url": url, "flush_interval_s": 0.05, "batch_size": 100, "retry_min_s": 0.05}
    values.update(changes)
    return InfluxSettings(**values)  # type: ignore[arg-type]


async def _run_until(sink: InfluxSink, done: Callable[[], bool], timeout_s: float = 15.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


async def test_telemetry_and_state_are_written_and_read_back(victoria: VictoriaMetrics) -> None:
    sink = InfluxSink(_settings(victoria.url))
    for i in range(250):
        ts = T0 + timedelta(seconds=i)
        sink.add(
            telemetry_line(
                "lyon", "mill-1", ts, {"spindle_speed": 1000.0 + i, "feed_rate": 250.0, "spindle_load": None}
            )
        )
    sink.add(state_line("lyon", "mill-1", T0, availability="AVAILABLE", execution="ACTIVE", mode="AUTOMATIC"))
    await _run_until(sink, lambda: sink.stats.written == 251)
    series = victoria.export("machine_.*")
    speeds = series["machine_telemetry_spindle_speed/mill-1"]
    assert len(speeds) == 250
    assert speeds[0] == (int(T0.timestamp() * 1000), 1000.0)
    assert speeds[-1][1] == 1249.0
    assert "machine_telemetry_spindle_load/mill-1" not in series  # no value, no point
    assert series["machine_state_active/mill-1"] == [(int(T0.timestamp() * 1000), 1.0)]


async def test_a_server_that_is_down_never_blocks_and_gets_everything_later(tmp_path: Path) -> None:
    server = VictoriaMetrics(tmp_path / "vm")  # not started yet
    sink = InfluxSink(_settings(server.url, timeout_s=1.0))
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(300):
        sink.add(telemetry_line("lyon", "lathe-2", T0 + timedelta(seconds=i), {"spindle_speed": float(i)}))
    assert loop.time() - started < 0.1, "adding lines must not wait for the server"
    await asyncio.sleep(0.5)
    assert sink.stats.failures >= 1
    assert sink.stats.written == 0
    await asyncio.to_thread(server.start)
    try:
        async with asyncio.timeout(20):
            while sink.stats.written < 300:
                await asyncio.sleep(0.05)
        stop.set()
        await task
        assert len(server.export("machine_telemetry_.*")["machine_telemetry_spindle_speed/lathe-2"]) == 300
        assert sink.stats.dropped == 0
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        server.stop()


async def test_buffer_is_bounded_and_counts_what_it_drops() -> None:
    written: list[str] = []
    sink = InfluxSink(_settings("http://unused", max_buffer=100), writer=written.extend)
    for i in range(150):
        sink.add(telemetry_line("lyon", "m", T0 + timedelta(seconds=i), {"feed_rate": float(i)}))
    assert sink.stats.dropped == 50
    await _run_until(sink, lambda: sink.stats.written == 100)
    assert written[0].endswith(str(int((T0 + timedelta(seconds=50)).timestamp()) * 10**9)), "oldest dropped first"


def test_line_protocol_escapes_tags_and_strings() -> None:
    text = state_line("my site", "m,1", T0, availability="AVAILABLE", execution=None, mode='A"B')
    assert text is not None
    assert text.startswith("machine_state,machine=m\\,1,site=my\\ site ")
    assert 'mode="A\\"B"' in text
    assert text.endswith(f" {int(T0.timestamp()) * 10**9}")


class _RefusingServer(ThreadingHTTPServer):
    """A real HTTP server answering the v2 write API like InfluxDB refusing a malformed batch."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: _RefusingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.bodies.append(body)
        if "bad" in body:
            payload = b'{"code":"invalid","message":"partial write: field type conflict"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_a_batch_the_server_refuses_is_dropped_and_counted_not_retried_for_ever() -> None:
    server = _RefusingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        sink = InfluxSink(_settings(url, batch_size=1))
        sink.add("machine_telemetry,machine=m bad=1i 1")
        sink.add(telemetry_line("lyon", "m", T0, {"feed_rate": 1.0}))
        await _run_until(sink, lambda: sink.stats.written == 1)
    finally:
        server.shutdown()
        server.server_close()
    assert (sink.stats.rejected, sink.stats.failures) == (1, 0)
    assert sink.stats.last_error == "BatchRejectedError: HTTP 400: partial write: field type conflict"
    assert len(server.bodies) == 2


async def test_lines_added_during_an_outage_do_not_cut_the_back_off_short() -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    sink = InfluxSink(_settings(nothing_listens, batch_size=10, retry_min_s=0.4, retry_max_s=0.4))
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        for i in range(100):  # a full batch every 10 lines, for a second
            sink.add(telemetry_line("lyon", "m", T0 + timedelta(seconds=i), {"feed_rate": float(i)}))
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task
    assert 1 <= sink.stats.failures <= 4, sink.stats.failures  # one attempt per back-off period, not per batch
    assert sink.stats.buffered == 100


def _accepted(message: c.Message, *, site: str = "lyon", machines: tuple[str, ...] = ()) -> Accepted:
    if isinstance(message, c.AgentStatus):
        topic = c.Topic(site=site, channel="status", agent=message.agent)
    else:
        topic = c.Topic(site=site, channel="event", machine=getattr(message, "machine", None))
    return Accepted(topic, message, T0 + timedelta(hours=1), agent_machines=machines)


def test_lines_of_each_kind_of_message() -> None:
    ns = int(T0.timestamp()) * 10**9
    telemetry = c.Telemetry(agent="pc", machine="m1", seq=1, ts=T0, spindle_speed=1200.0, feed_override=None)
    assert lines_of(_accepted(telemetry)) == [f"machine_telemetry,machine=m1,site=lyon spindle_speed=1200.0 {ns}"]
    st = c.MachineState(availability=c.Availability.AVAILABLE, execution=c.Execution.FEED_HOLD, mode=c.Mode.AUTOMATIC)
    snapshot = lines_of(_accepted(c.StateMessage(agent="pc", machine="m1", seq=2, ts=T0, state=st)))
    assert snapshot == [
        "machine_state,machine=m1,site=lyon "
        f'available=1i,active=0i,held=1i,stopped=0i,execution="FEED_HOLD",mode="AUTOMATIC" {ns}'
    ]
    cycle = c.CycleEnded(
        agent="pc",
        machine="m1",
        seq=3,
        ts=T0,
        program="BRIDE A12",
        started=T0 - timedelta(seconds=60),
        duration_s=60,
        held_s=0,
        parts=1,
        outcome=c.CycleOutcome.ABORTED,
    )
    assert lines_of(_accepted(cycle)) == [
        "machine_cycle,machine=m1,program=BRIDE\\ A12,site=lyon "
        f'duration_s=60.0,held_s=0.0,parts=1i,outcome="aborted" {ns}'
    ]
    will = c.AgentStatus(agent="pc", ts=T0, status="offline", machines=("m1",))
    offline = lines_of(_accepted(will, machines=("m1", "m2")))
    received = int((T0 + timedelta(hours=1)).timestamp()) * 10**9
    assert [text.split(" ")[0] for text in offline] == [f"machine_state,machine={m},site=lyon" for m in ("m1", "m2")]
    assert all(text.endswith(f" {received}") and "available=0i" in text for text in offline)
    assert lines_of(_accepted(c.AgentStatus(agent="pc", ts=T0, status="online", machines=("m1",)))) == []
    part = c.PartCounted(agent="pc", machine="m1", seq=4, ts=T0, count=1, counter=None, program=None)
    assert lines_of(_accepted(part)) == []


def test_the_grafana_dashboard_asks_for_what_the_gateway_writes() -> None:
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    asked = {
        (measurement, field)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for measurement, field in re.findall(r'_measurement == "(\w+)" and r._field == "(\w+)"', target["query"])
    }
    assert len(asked) == sum(len(panel["targets"]) for panel in dashboard["panels"])
    st = c.MachineState(availability=c.Availability.AVAILABLE, execution=c.Execution.ACTIVE)
    values = dict.fromkeys(c.TELEMETRY_FIELDS, 1.0)
    cycle = c.CycleEnded(
        agent="pc",
        machine="m1",
        seq=3,
        ts=T0,
        program="P",
        started=T0,
        duration_s=1,
        held_s=0,
        parts=1,
        outcome=c.CycleOutcome.COMPLETED,
    )
    messages: list[c.Message] = [
        c.Telemetry(agent="pc", machine="m1", seq=1, ts=T0, **values),
        c.StateMessage(agent="pc", machine="m1", seq=2, ts=T0, state=st),
        cycle,
    ]
    written = {
        (text.split(",")[0], pair.split("=")[0])
        for message in messages
        for text in lines_of(_accepted(message))
        for pair in text.split(" ")[1].split(",")
    }
    assert asked <= written, asked - written
    assert all('bucket: "${bucket}"' in target["query"] for p in dashboard["panels"] for target in p["targets"])
