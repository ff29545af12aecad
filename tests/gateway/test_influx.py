"""The InfluxDB sink against a real server speaking the InfluxDB v2 write API.

Debian's victoria-metrics accepts influxdb-client's /api/v2/write (Debian's
influxdb 1.6 has no v2 API and InfluxDB 2 is not packaged); the points are read
back through its /api/v1/export and compared.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atelier.broker import free_port, wait_for_port
from gateway.influx import InfluxSettings, InfluxSink, state_line, telemetry_line

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class VictoriaMetrics:
    def __init__(self, data_dir: Path) -> None:
        binary = shutil.which("victoria-metrics")
        assert binary, "victoria-metrics is missing: make test installs it (apt-get install victoria-metrics)"
        self.binary = binary
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data_dir}",
                "-loggerLevel=ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port, timeout_s=15)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
            self.process = None

    def export(self, name_regex: str) -> dict[str, list[tuple[int, float]]]:
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": f'{{__name__=~"{name_regex}"}}'})
        body = urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10).read().decode()
        series: dict[str, list[tuple[int, float]]] = {}
        for text in body.splitlines():
            item = json.loads(text)
            key = f"{item['metric']['__name__']}/{item['metric'].get('machine', '')}"
            series.setdefault(key, []).extend(zip(item["timestamps"], item["values"], strict=True))
        return {k: sorted(v) for k, v in series.items()}


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "vm")
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
