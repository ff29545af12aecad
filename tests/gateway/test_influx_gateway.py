"""The gateway with ``[influx]``: events from a real mosquitto, points read back from a real victoria-metrics.

victoria-metrics stands in for InfluxDB 2/3: it speaks the same v2 write API
that influxdb-client uses (see tests/gateway/victoria.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from atelier.broker import Broker, free_port
from edge_agent import contract as c
from gateway.config import GatewaySettings
from plumbing import tomlconfig
from tests.gateway.conftest import RunningGateway
from tests.gateway.helpers import AGENT, MACHINE, T0, Publisher, birth, changed, count, gateway_toml, state, until
from tests.gateway.prometheus_text import Scrape, parse
from tests.gateway.victoria import Series, VictoriaMetrics

Start = Callable[[GatewaySettings], Any]


def influx_settings(broker: Broker, tmp_path: Path, url: str, **influx: Any) -> GatewaySettings:
    keys = {"url": url, "flush_interval_s": 0.05, "batch_size": 1000, "retry_max_s": 0.5, **influx}
    section = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in keys.items())
    path = tmp_path / "gateway.toml"
    path.write_text(gateway_toml(broker, tmp_path / "gateway.db", http_port=free_port()) + f"\n[influx]\n{section}\n")
    return tomlconfig.load(path, GatewaySettings)


def telemetry(seq: int, *, at: datetime | None = None, **values: float | None) -> c.Telemetry:
    ts = at or T0 + timedelta(seconds=seq, milliseconds=250)
    return c.Telemetry(agent=AGENT, machine=MACHINE, seq=seq, ts=ts, **values)


def ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


async def scrape(gw: RunningGateway) -> Scrape:
    async with httpx.AsyncClient(base_url=gw.base_url) as client:
        return parse((await client.get("/metrics")).text)


def scraped_when(gw: RunningGateway, test: Callable[[Scrape], bool]) -> Callable[[], Scrape | None]:
    def check() -> Scrape | None:
        scraped = parse(httpx.get(f"{gw.base_url}/metrics", timeout=5).text)
        return scraped if test(scraped) else None

    return check


def points(series: Series, field: str) -> list[tuple[int, float]]:
    return series.get(f"{field}/{MACHINE}", [])


async def test_committed_messages_become_points(
    broker: Broker, victoria: VictoriaMetrics, publisher: Publisher, gateway_factory: Start, tmp_path: Path
) -> None:
    token = tmp_path / "influx-token"
    token.write_text("a-token\n")
    gw = await gateway_factory(influx_settings(broker, tmp_path, victoria.url, token_file=str(token)))
    publisher.send(birth())
    publisher.send(state(1))  # ACTIVE in AUTOMATIC at T0+1s
    for i in range(1, 21):
        override = 100.0 if i % 2 else None  # a field without a value gives no point
        publisher.send(telemetry(i, spindle_speed=1000.0 + i, spindle_load=10.5, spindle_override=override))
    publisher.send(changed(2, c.Execution.FEED_HOLD))
    publisher.send(changed(2, c.Execution.FEED_HOLD))  # a duplicate: dropped by ingest, so no second point
    publisher.send(changed(3, c.Execution.ACTIVE))
    cycle_end = T0 + timedelta(seconds=4)
    publisher.send(
        c.CycleEnded(
            agent=AGENT,
            machine=MACHINE,
            seq=4,
            ts=cycle_end,
            program="P1",
            started=cycle_end - timedelta(seconds=84),
            duration_s=84.0,
            held_s=1.5,
            parts=2,
            outcome=c.CycleOutcome.COMPLETED,
        )
    )
    before_offline = time.time()
    publisher.send(birth(status="offline"))

    def complete() -> Series | None:
        series = victoria.export("machine_.*")
        return series if len(points(series, "machine_state_available")) == 4 else None

    series = await until(complete, what="the offline point")
    tele = [T0 + timedelta(seconds=i, milliseconds=250) for i in range(1, 21)]
    assert points(series, "machine_telemetry_spindle_speed") == [(ms(t), 1000.0 + i) for i, t in enumerate(tele, 1)]
    assert points(series, "machine_telemetry_spindle_load") == [(ms(t), 10.5) for t in tele]
    assert points(series, "machine_telemetry_spindle_override") == [(ms(t), 100.0) for t in tele[::2]]
    assert "machine_telemetry_feed_rate/" + MACHINE not in series
    state_times = [ms(T0 + timedelta(seconds=s)) for s in (1, 2, 3)]
    assert points(series, "machine_state_active")[:3] == list(zip(state_times, [1.0, 0.0, 1.0], strict=True))
    assert points(series, "machine_state_held")[:3] == list(zip(state_times, [0.0, 1.0, 0.0], strict=True))
    offline_at, offline = points(series, "machine_state_available")[3]
    assert offline == 0.0
    assert offline_at >= int(before_offline * 1000) - 5  # when the gateway received it, not the Will's stale ts
    assert points(series, "machine_cycle_duration_s") == [(ms(cycle_end), 84.0)]
    assert points(series, "machine_cycle_held_s") == [(ms(cycle_end), 1.5)]
    assert points(series, "machine_cycle_parts") == [(ms(cycle_end), 2.0)]
    metrics = await scrape(gw)
    lines = 20 + 3 + 1 + 1  # telemetry, state snapshot and changes, cycle, offline
    assert metrics.value("atelier_gateway_influx_lines_written_total") == lines
    assert metrics.value("atelier_gateway_influx_lines_buffered") == 0
    assert metrics.value("atelier_gateway_influx_failing") == 0


@pytest.mark.fault  # stops victoria-metrics under ingest
async def test_ingest_goes_on_while_influx_hangs_or_is_down_and_catches_up(
    broker: Broker, victoria: VictoriaMetrics, publisher: Publisher, gateway_factory: Start, tmp_path: Path
) -> None:
    gw = await gateway_factory(influx_settings(broker, tmp_path, victoria.url, timeout_s=2.0))
    publisher.send(birth())
    per_phase = 30
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    sent = 0

    async def burst() -> float:
        """Publish a burst of events and telemetry; seconds from its last publish to its last SQL row."""
        nonlocal sent
        for _ in range(per_phase):
            sent += 1
            execution = c.Execution.ACTIVE if sent % 2 else c.Execution.FEED_HOLD
            event = changed(sent, execution)
            publisher.send(event.model_copy(update={"ts": base + timedelta(seconds=sent)}))
            publisher.send(telemetry(sent, at=base + timedelta(seconds=sent, milliseconds=500), spindle_speed=sent))
        published = time.monotonic()
        await until(lambda: count(gw.db_path, "state_changes") == sent, what=f"{sent} state changes in SQL")
        return time.monotonic() - published

    up = await burst()
    await until(lambda: len(points(victoria.export("machine_.*"), "machine_state_active")) == sent, what="points")

    victoria.freeze()  # a hung server: connections accepted, never answered; each write waits timeout_s
    hung = await burst()
    failing = scraped_when(gw, lambda m: m.value("atelier_gateway_influx_failing") == 1)
    scraped = await until(failing, what="the sink to notice")
    assert scraped.value("atelier_gateway_influx_lines_buffered") > 0
    assert scraped.value("atelier_gateway_influx_last_error_timestamp_seconds") > 0

    victoria.stop()  # and now nothing listens at all (a SIGKILL would lose victoria-metrics' unsaved index)
    down = await burst()
    refused = scraped_when(gw, lambda m: m.value("atelier_gateway_influx_write_failures_total") >= 2)
    scraped = await until(refused, what="a write refused by the stopped server")
    errors = [dict(labels)["error"] for name, labels in scraped.samples if name.endswith("last_error_info")]
    assert "Connection refused" in errors[0], errors
    print(f"seconds from last publish to last SQL row: up {up:.3f}, hung {hung:.3f}, down {down:.3f}")
    # Acks follow the SQL commit only: no write to InfluxDB may hold a batch (one hung write takes 2 s).
    assert hung < up + 1.0, (up, hung)
    assert down < up + 1.0, (up, down)

    victoria.start()  # same port, same data
    empty = scraped_when(gw, lambda m: m.value("atelier_gateway_influx_lines_buffered") == 0)
    caught_up = await until(empty, timeout_s=20, what="the buffered lines to be written")
    series = victoria.export("machine_.*")
    # A write that hung may have been stored after all when the server thawed: points, not lines, are compared.
    times = [ms(base + timedelta(seconds=i)) for i in range(1, sent + 1)]
    assert sorted(set(points(series, "machine_state_active"))) == [(t, float(i % 2)) for i, t in enumerate(times, 1)]
    speeds = sorted(set(points(series, "machine_telemetry_spindle_speed")))
    assert [value for _, value in speeds] == [float(i) for i in range(1, sent + 1)]
    assert caught_up.value("atelier_gateway_influx_lines_written_total") >= 2 * sent
    assert caught_up.value("atelier_gateway_influx_lines_dropped_total") == 0
    assert caught_up.value("atelier_gateway_influx_write_failures_total") >= 2
    assert caught_up.value("atelier_gateway_influx_failing") == 0
    assert caught_up.value("atelier_gateway_messages_accepted_total") == 1 + 2 * sent
