"""Telemetry and the state timeline into InfluxDB 2/3 through influxdb-client, never blocking ingest.

Ingest hands over prepared line protocol (building ``Point`` objects costs about
seven times more CPU); a flusher task writes it in batches from a worker
thread. The buffer is bounded and drops the oldest lines when InfluxDB is down
for long, counting them: telemetry is a sampled series, and the SQL records,
which are the ones that matter, never depend on InfluxDB.

What is written, per committed message (tags ``site`` and ``machine`` on every point):

- ``machine_telemetry``: spindle_speed, spindle_load, feed_rate, feed_override, spindle_override
- ``machine_state``: available, active, held, stopped (0/1; the execution's class, as
  ``contract.shown`` says), execution, mode (words); from every
  state snapshot and state change, and ``available=0`` for each machine of an agent that went offline
- ``machine_cycle`` (tag ``program`` too): duration_s, held_s, parts, outcome; at the end of the cycle
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from edge_agent import contract
from gateway.ingest.messages import Accepted, BatchOutcome

logger = logging.getLogger(__name__)

TELEMETRY_MEASUREMENT = "machine_telemetry"
STATE_MEASUREMENT = "machine_state"
CYCLE_MEASUREMENT = "machine_cycle"


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
    retry_max_s: float = 30.0


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
    """The state timeline: 0/1 flags a dashboard can sum, plus the raw words for InfluxDB itself.

    ``active``, ``held`` and ``stopped`` follow the execution's class (``contract.shown``): at most one is 1.
    """
    flag = contract.shown(execution).influx_flag
    fields: dict[str, float | int | bool | str | None] = {
        "available": int(availability == "AVAILABLE"),
        **{name: int(name == flag) for name in contract.INFLUX_EXECUTION_FLAGS},
        "execution": execution or "",
        "mode": mode or "",
    }
    return line(STATE_MEASUREMENT, {"site": site, "machine": machine}, fields, ts)


def cycle_line(site: str, event: contract.CycleEnded) -> str | None:
    fields: dict[str, float | int | bool | str | None] = {
        "duration_s": float(event.duration_s),
        "held_s": float(event.held_s),
        "parts": event.parts,
        "outcome": event.outcome.value,
    }
    tags = {"site": site, "machine": event.machine, "program": event.program or ""}
    return line(CYCLE_MEASUREMENT, tags, fields, event.ts)


def _state_of(site: str, machine: str, ts: datetime, st: contract.MachineState | contract.StateChanged) -> str | None:
    """The state point of a snapshot or of a change: both carry availability, execution and mode."""
    return state_line(
        site,
        machine,
        ts,
        availability=st.availability.value,
        execution=None if st.execution is None else st.execution.value,
        mode=None if st.mode is None else st.mode.value,
    )


def lines_of(item: Accepted) -> list[str]:
    """The points one committed message gives; messages the series do not show give none."""
    message, site = item.message, item.topic.site
    found: list[str | None]
    match message:
        case contract.Telemetry():
            values = {name: getattr(message, name) for name in contract.TELEMETRY_FIELDS}
            found = [telemetry_line(site, message.machine, message.ts, values)]
        case contract.StateMessage():
            found = [_state_of(site, message.machine, message.ts, message.state)]
        case contract.StateChanged():
            found = [_state_of(site, message.machine, message.ts, message)]
        case contract.AgentStatus(status="offline"):
            # A Last Will carries the time it was set at connect; the store, too, uses the time it arrived.
            names = dict.fromkeys((*message.machines, *item.agent_machines))
            found = [
                state_line(site, name, item.received_at, availability="UNAVAILABLE", execution=None, mode=None)
                for name in names
            ]
        case contract.CycleEnded():
            found = [cycle_line(site, message)]
        case _:
            found = []
    return [text for text in found if text is not None]


# --- the sink -------------------------------------------------------------------------------


class Writer(Protocol):
    def __call__(self, lines: list[str], /) -> None: ...


class WriteError(Exception):
    """The server answered with an error worth retrying (401, 404, 429, 5xx...)."""


class BatchRejectedError(Exception):
    """The server refused the batch itself (HTTP 400/413/422): sending it again cannot help."""


REJECTED_STATUSES = frozenset({400, 413, 422})


def influx_writer(settings: InfluxSettings) -> tuple[Writer, Callable[[], None]]:
    """A blocking writer over influxdb-client's synchronous write API, and its close function."""
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.domain.write_precision import WritePrecision
    from influxdb_client.rest import ApiException

    client = InfluxDBClient(
        url=settings.url, token=settings.token, org=settings.org, timeout=int(settings.timeout_s * 1000)
    )
    api = client.write_api(write_options=SYNCHRONOUS)

    def write(lines: list[str]) -> None:
        # WritePrecision.NS is a plain str constant, though the signature names the class.
        precision = cast("WritePrecision", WritePrecision.NS)
        try:
            api.write(bucket=settings.bucket, org=settings.org, record=lines, write_precision=precision)
        except ApiException as err:
            text = f"HTTP {err.status}: {err.message or err.reason}"
            if err.status in REJECTED_STATUSES:
                raise BatchRejectedError(text) from err
            raise WriteError(text) from err

    return write, client.close


@dataclass
class SinkStats:
    written: int = 0
    dropped: int = 0  # the buffer was full: the oldest lines went
    rejected: int = 0  # the server refused them as malformed
    failures: int = 0  # write attempts that failed (and were retried)
    buffered: int = 0
    last_error: str = ""
    last_error_at: float = 0.0  # Unix time, 0 when there was none


class InfluxSink:
    """Bounded buffer plus a flusher task; ``add`` never blocks and never raises."""

    def __init__(self, settings: InfluxSettings, writer: Writer | None = None) -> None:
        self.settings = settings
        self._writer = writer
        self._close: Callable[[], None] = lambda: None
        self._buffer: deque[str] = deque()
        self._wake = asyncio.Event()
        self._failing = 0  # consecutive failed attempts
        self.stats = SinkStats()

    @property
    def failing(self) -> bool:
        """True while the latest write attempt failed."""
        return self._failing > 0

    def add(self, text: str | None) -> None:
        if text is None:
            return
        if len(self._buffer) >= self.settings.max_buffer:
            self._buffer.popleft()
            self.stats.dropped += 1
        self._buffer.append(text)
        self.stats.buffered = len(self._buffer)
        # A full batch is written at once, but not while the server is away: that would undo the back-off.
        if len(self._buffer) >= self.settings.batch_size and not self._failing:
            self._wake.set()

    def observe(self, outcome: BatchOutcome) -> None:
        """Ingest's hook, after each committed batch: the points of what the batch accepted."""
        for item in outcome.accepted:
            for text in lines_of(item):
                self.add(text)

    async def run(self, stop: asyncio.Event) -> None:
        if self._writer is None:
            self._writer, self._close = influx_writer(self.settings)
        first_delay = min(self.settings.retry_min_s, self.settings.retry_max_s)
        delay = first_delay
        try:
            while not stop.is_set():
                await self._sleep(stop, self.settings.flush_interval_s)
                while self._buffer:
                    if await self._flush_once():
                        delay = first_delay
                        continue
                    await self._sleep(stop, delay)
                    delay = min(delay * 2, self.settings.retry_max_s)
                    if stop.is_set():
                        break
            # What is left goes out on the way out, unless the server is known to be away.
            while self._buffer and not self.failing and await self._flush_once():
                pass
        finally:
            self.stats.buffered = len(self._buffer)
            if self._buffer:
                logger.warning("influx sink stopped with %d lines not written", len(self._buffer))
            self._close()

    async def _flush_once(self) -> bool:
        batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), self.settings.batch_size))]
        if not batch:
            return True
        assert self._writer is not None
        try:
            await asyncio.to_thread(self._writer, batch)
        except BatchRejectedError as err:
            self.stats.rejected += len(batch)
            self._note_error(err)
            logger.error("influx refused a batch of %d lines, dropped: %s", len(batch), _one_line(err))  # noqa: TRY400
            return True  # the server answers: go on with the next batch
        except Exception as err:  # any other failure of the remote side means: keep and retry
            self._requeue(batch)
            self.stats.failures += 1
            self._failing += 1
            self._note_error(err)
            if self._failing == 1 or self._failing % 20 == 0:
                logger.warning(
                    "influx write failed (attempt %d, %d lines kept for retry, %d dropped so far): %s",
                    self._failing,
                    len(self._buffer),
                    self.stats.dropped,
                    _one_line(err),
                )
            return False
        if self._failing:
            logger.info("influx writes resumed after %d failed attempts", self._failing)
            self._failing = 0
        self.stats.written += len(batch)
        self.stats.buffered = len(self._buffer)
        return True

    def _note_error(self, err: BaseException) -> None:
        self.stats.last_error = _one_line(err)
        self.stats.last_error_at = time.time()
        self.stats.buffered = len(self._buffer)

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
