"""The GRBL dialect: polls ``?``, reports every status field, and streams programs it is given.

The port has one owner, so this driver is also the G-code sender. A program
reaches it through the control socket (``grbl_control``); it is streamed with
character counting, and its run is one cycle: ``sender`` becomes
``streaming`` (mode AUTOMATIC in the profile) with ``job_program`` the file
name, and the run ends with ``pgm_end`` (completed) or, on error:N, an alarm,
a reset or a stop request, without it (after a feed hold and a soft reset).

``run_state`` is GRBL's state except that Idle while a program is still being
streamed counts as Run: GRBL goes Idle whenever its planner runs dry (a dwell,
a spindle spin-up), which is not the end of the program.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from edge_agent.drivers import Batch, Reading
from edge_agent.drivers.serial import grbl
from edge_agent.drivers.serial.grbl_control import ControlServer
from edge_agent.drivers.serial.grbl_stream import Job, Outcome, ProgramError, Streamer, load_program
from edge_agent.drivers.serial.link import LineSplitter, SerialLink
from edge_agent.drivers.serial.options import GrblOptions
from edge_agent.errors import DriverError

logger = logging.getLogger(__name__)

FEED_HOLD, RESUME, SOFT_RESET, STATUS = b"!", b"~", b"\x18", b"?"
PROGRESS_EVERY_S = 1.0
HOMING_SILENCE_S = 120.0  # GRBL does not answer '?' while homing
_STANDSTILL = frozenset({"Idle", "Alarm", "Door", "Sleep"})


def utc_now() -> datetime:
    return datetime.now(UTC)


class GrblDriver:
    def __init__(self, *, machine_id: str, options: GrblOptions, clock: Callable[[], datetime] = utc_now) -> None:
        self.machine_id = machine_id
        self.options = options
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.job: Job | None = None
        self.last_job: Job | None = None
        self.state: str | None = None
        self._link: SerialLink | None = None
        self._decoder = grbl.GrblReadings()
        self._current: list[Reading] = []
        self._batches: list[list[Reading]] = []
        self._idle_reports = 0
        self._progress_at = 0.0
        self.last_heard: datetime | None = None  # see edge_agent.drivers

    async def readings(self) -> AsyncIterator[Batch]:
        link = SerialLink(self.options)
        await link.open()
        server: ControlServer | None = None
        try:
            # pipeline.run_machine calls readings() again on the same instance after a failure: start clean.
            self._link, self._decoder, self.state = link, grbl.GrblReadings(), None
            self._current, self._batches, self.last_heard = [], [], None
            path = self.options.socket_path(self.machine_id)
            if path is not None:
                server = ControlServer(path, self.control)
                await server.start()
            else:
                logger.warning("machine %s: no state_dir or control_socket option: sending is off", self.machine_id)
            async for batch in self._loop(link):
                yield batch
        finally:
            self._link = None
            if self.job is not None:
                self._finish(Outcome.RESET, "the link to GRBL was lost")
            if server is not None:
                await server.close()
            await link.close()

    async def _loop(self, link: SerialLink) -> AsyncIterator[Batch]:
        splitter = LineSplitter()
        next_poll = last_rx = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_poll:
                await link.write(STATUS)
                next_poll = now + self.options.poll_interval_s
            await self._check_stop_timeout(now)
            data = await link.read(max(0.01, min(next_poll - now, 0.1)))
            if data:
                last_rx, self.last_heard = time.monotonic(), self.clock()
            elif time.monotonic() - last_rx > self._silence_s():
                raise DriverError(f"GRBL on {self.options.describe()} silent for {self._silence_s():.0f} s")
            for line in splitter.feed(data):
                await self._handle(line)
            self.counters["dropped_lines"] = splitter.dropped
            await self._pump()
            self._close_batch()
            batches, self._batches = self._batches, []
            for batch in batches:
                yield batch

    def _silence_s(self) -> float:
        return HOMING_SILENCE_S if self.state == "Home" else self.options.read_timeout_s

    async def _handle(self, line: str) -> None:
        try:
            message = grbl.parse_line(line)
        except grbl.GrblParseError as err:
            self.counters["noise_lines"] += 1
            logger.debug("machine %s: ignored %s", self.machine_id, err)
            return
        if message is None:
            return
        ts = self.clock()
        readings = self._decoder.readings(message, ts)
        job = self.job
        if job is not None and any(r.key == "pgm_end" for r in readings):
            # Pgm End of a streamed program is reported with the job's end, together with Idle.
            job.pgm_end = True
            readings = [r for r in readings if r.key != "pgm_end"]
        match message:
            case grbl.Status():
                await self._status(message, readings, ts)
                return
            case grbl.Ok() | grbl.Error() if job is not None and job.streamer.ack():
                await self._on_ack(job, message)
            case grbl.AlarmMsg() if job is not None:
                self._emit(readings)
                self._finish(Outcome.ALARM, f"ALARM:{message.code} {message.text}")
                return
            case grbl.Banner() if job is not None:
                self._emit(readings)
                self._finish(job.stopping or Outcome.RESET, job.detail or "GRBL was reset")
                return
        self._emit(readings)

    async def _on_ack(self, job: Job, message: grbl.Message) -> None:
        if isinstance(message, grbl.Error) and job.stopping is None:
            detail = f"error:{message.code} {message.text} at line {job.streamer.acked} of {job.total}"
            logger.warning("machine %s: %s: stopping %s", self.machine_id, detail, job.name)
            await self._begin_stop(job, Outcome.ERROR, detail)
        if job.streamer.all_acked:
            job.last_ack_seen = True

    async def _status(self, status: grbl.Status, readings: list[Reading], ts: datetime) -> None:
        first = self.state is None
        self.state = status.state
        job = self.job
        running = job is not None and job.stopping is None and status.state == "Idle"
        out = [*readings, Reading("run_state", "Run" if running else status.state, ts)]
        if first:
            out.append(Reading("sender", "idle" if job is None else "streaming", ts))
        if job is not None and time.monotonic() - self._progress_at >= PROGRESS_EVERY_S:
            # Progress is a state field: at most once a second, not once per line.
            out += job.progress_readings(ts)
            self._progress_at = time.monotonic()
        self._emit(out)
        if job is not None:
            await self._job_status(job, status, ts)
        self._close_batch()

    async def _job_status(self, job: Job, status: grbl.Status, ts: datetime) -> None:
        if job.stopping is not None and (status.state in _STANDSTILL or (status.state, status.substate) == ("Hold", 0)):
            await self._reset_now(job)
            return
        if not job.last_ack_seen:
            return
        self._idle_reports = self._idle_reports + 1 if status.state == "Idle" else 0
        # With M2/M30 GRBL has already waited for motion to end; otherwise see Idle twice to be sure.
        if self._idle_reports >= (1 if job.pgm_end else 2):
            self._finish(Outcome.COMPLETED, "")

    async def _pump(self) -> None:
        job, link = self.job, self._link
        if job is None or link is None or job.stopping is not None:
            return
        lines = job.streamer.take()
        if lines:
            await link.write("".join(f"{line}\n" for line in lines).encode("ascii"))

    def _emit(self, readings: list[Reading]) -> None:
        self._current.extend(readings)

    def _close_batch(self) -> None:
        if self._current:
            self._batches.append(self._current)
            self._current = []

    # --- job control ---------------------------------------------------------

    def start(self, name: str, text: str) -> Job:
        if self._link is None:
            raise DriverError("GRBL is not connected")
        if self.job is not None:
            raise DriverError(f"busy: {self.job.name} is running ({self.job.progress()})")
        if self.state != "Idle":
            raise DriverError(
                f"GRBL is in state {self.state or 'unknown'}, not Idle: clear it before sending a program"
            )
        job = Job(name=name, streamer=Streamer(load_program(text)), started=self.clock())
        self.job, self._idle_reports = job, 0
        self._close_batch()
        self._emit(job.start_readings(job.started))
        self._close_batch()
        logger.info("machine %s: streaming %s (%d lines)", self.machine_id, name, job.total)
        return job

    async def _begin_stop(self, job: Job, outcome: Outcome, detail: str) -> None:
        job.stopping, job.detail, job.stop_requested_at = outcome, detail, time.monotonic()
        await self._write(FEED_HOLD)

    async def _check_stop_timeout(self, now: float) -> None:
        job = self.job
        if job is not None and job.stopping is not None and now - job.stop_requested_at > self.options.stop_timeout_s:
            logger.warning("machine %s: no standstill after feed hold; resetting anyway", self.machine_id)
            await self._reset_now(job)

    async def _reset_now(self, job: Job) -> None:
        if self._link is not None:
            await self._link.write(SOFT_RESET)
        self._finish(job.stopping or Outcome.STOPPED, job.detail)

    def _finish(self, outcome: Outcome, detail: str) -> None:
        job = self.job
        if job is None:
            return
        job.outcome, job.detail = outcome, detail
        self.job, self.last_job = None, job
        ts = self.clock()
        self._emit(job.end_readings(ts))
        if self.state is not None:
            self._emit([Reading("run_state", self.state, ts)])
        self._close_batch()
        logger.info("machine %s: %s %s (%s) %s", self.machine_id, job.name, outcome, job.progress(), detail)

    async def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request from the control socket: send, hold, resume, stop or status."""
        op = request.get("op")
        try:
            match op:
                case "send":
                    job = self.start(str(request.get("name") or "program"), str(request.get("gcode") or ""))
                    await self._pump()
                    return {"ok": True, "lines": job.total}
                case "hold" | "resume":
                    await self._write(FEED_HOLD if op == "hold" else RESUME)
                case "stop":
                    await self.stop()
                case "status":
                    return {"ok": True, "state": self.state, "job": self.job.summary() if self.job else None}
                case _:
                    return {"ok": False, "error": f"unknown operation {op!r}"}
        except (DriverError, ProgramError) as err:
            return {"ok": False, "error": str(err)}
        return {"ok": True}

    async def stop(self) -> None:
        """Feed hold, then a soft reset once the machine stands still: the clean way to abandon a program."""
        if self.job is None:
            raise DriverError("no program is running")
        await self._begin_stop(self.job, Outcome.STOPPED, "stopped on request")

    async def _write(self, data: bytes) -> None:
        if self._link is None:
            raise DriverError("GRBL is not connected")
        await self._link.write(data)
