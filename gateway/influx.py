"""Telemetry and the state timeline into InfluxDB 2/3 through influxdb-client, never blocking ingest.

Ingest hands over prepared line protocol (building ``Point`` objects costs about
seven times more CPU); a flusher task writes it in batches from a worker
thread. The buffer is bounded and drops the oldest lines when InfluxDB is down
for long, counting them: telemetry is a sampled series, and the SQL records,
which are the ones that matter, never depend on InfluxDB.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

logger = logging.getLogger(__name__)

TELEMETRY_MEASUREMENT = "machine_telemetry"
STATE_MEASUREMENT = "machine_state"


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    url: str
    token: str = ""
    org: str = "atelier"
    bucket: str = "atelier"
    batch_size: int = 5000
    flush_interval_s: float = 1.0
    max_buffer: int = 200_000
    timeout_s: float = 10.0
    retry_min_s: float = 0.5
    retry_max_s: float = 60.0


# --- line protocol (pure) -------------------------------------------------------------------


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _field(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return f'"{_escape_string(value)}"'


def line(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, float | int | bool | str | None], ts: datetime
) -> str | None:
    """One line of InfluxDB line protocol at nanosecond precision; None when no field has a value."""
    kept = {k: v for k, v in fields.items() if v is not None and not (isinstance(v, float) and not math.isfinite(v))}
    if not kept:
        return None
    tag_text = "".join(f",{_escape_tag(k)}={_escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    field_text = ",".join(f"{_escape_tag(k)}={_field(v)}" for k, v in kept.items())
    ns = int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
    return f"{_escape_tag(measurement)}{tag_text} {field_text} {ns}"


def telemetry_line(site: str, machine: str, ts: datetime, values: Mapping[str, float | None]) -> str | None:
    return line(TELEMETRY_MEASUREMENT, {"site": site, "machine": machine}, values, ts)


def state_line(
    site: str, machine: str, ts: datetime, *, availability: str, execution: str | None, mode: str | None
) -> str | None:
    """The state timeline: 0/1 flags a dashboard can sum, plus the raw words for InfluxDB itself."""
    fields: dict[str, float | int | bool | str | None] = {
        "available": int(availability == "AVAILABLE"),
        "active": int(execution == "ACTIVE"),
        "held": int(execution in {"FEED_HOLD", "INTERRUPTED"}),
        "stopped": int(execution in {"STOPPED", "PROGRAM_STOPPED"}),
        "execution": execution or "",
        "mode": mode or "",
    }
    return line(STATE_MEASUREMENT, {"site": site, "machine": machine}, fields, ts)


# --- the sink -------------------------------------------------------------------------------


class Writer(Protocol):
    def __call__(self, lines: list[str], /) -> None: ...


def influx_writer(settings: InfluxSettings) -> tuple[Writer, Callable[[], None]]:
    """A blocking writer over influxdb-client's synchronous write API, and its close function."""
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.domain.write_precision import WritePrecision

    client = InfluxDBClient(
        url=settings.url, token=settings.token, org=settings.org, timeout=int(settings.timeout_s * 1000)
    )
    api = client.write_api(write_options=SYNCHRONOUS)

    def write(lines: list[str]) -> None:
        # WritePrecision.NS is a plain str constant, though the signature names the class.
        precision = cast("WritePrecision", WritePrecision.NS)
        api.write(bucket=settings.bucket, org=settings.org, record=lines, write_precision=precision)

    return write, client.close


@dataclass
class SinkStats:
    written: int = 0
    dropped: int = 0
    failures: int = 0
    buffered: int = 0


class InfluxSink:
    """Bounded buffer plus a flusher task; ``add`` never blocks and never raises."""

    def __init__(self, settings: InfluxSettings, writer: Writer | None = None) -> None:
        self.settings = settings
        self._writer = writer
        self._close: Callable[[], None] = lambda: None
        self._buffer: deque[str] = deque()
        self._wake = asyncio.Event()
        self.stats = SinkStats()

    def add(self, text: str | None) -> None:
        if text is None:
            return
        if len(self._buffer) >= self.settings.max_buffer:
            self._buffer.popleft()
            self.stats.dropped += 1
        self._buffer.append(text)
        if len(self._buffer) >= self.settings.batch_size:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        if self._writer is None:
            self._writer, self._close = influx_writer(self.settings)
        delay = self.settings.retry_min_s
        try:
            while not stop.is_set():
                await self._sleep(stop, self.settings.flush_interval_s)
                while self._buffer:
                    if await self._flush_once():
                        delay = self.settings.retry_min_s
                        continue
                    await self._sleep(stop, delay)
                    delay = min(delay * 2, self.settings.retry_max_s)
                    if stop.is_set():
                        break
            await self._flush_once()  # a last try on the way out; what fails stays counted in the buffer
        finally:
            self.stats.buffered = len(self._buffer)
            self._close()

    async def _flush_once(self) -> bool:
        batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), self.settings.batch_size))]
        if not batch:
            return True
        assert self._writer is not None
        try:
            await asyncio.to_thread(self._writer, batch)
        except Exception as err:  # any failure of the remote side means: keep and retry
            self._requeue(batch)
            self.stats.failures += 1
            if self.stats.failures == 1 or self.stats.failures % 20 == 0:
                logger.warning("influx write failed (%d lines kept for retry): %s", len(self._buffer), _one_line(err))
            return False
        self.stats.written += len(batch)
        self.stats.buffered = len(self._buffer)
        return True

    def _requeue(self, batch: list[str]) -> None:
        room = self.settings.max_buffer - len(self._buffer)
        keep = batch[-room:] if room > 0 else []
        self.stats.dropped += len(batch) - len(keep)
        self._buffer.extendleft(reversed(keep))

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._wake.clear()


def _one_line(err: BaseException) -> str:
    text: Any = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"
