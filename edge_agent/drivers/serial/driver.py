"""The ``serial`` driver: machines on a serial line (or a raw TCP port), in one of three dialects.

``options["dialect"]`` picks the dialect: ``grbl`` (status polling and program
streaming, see ``grbl_driver``), ``haas-q`` (Haas Q-command polling over RS-232
or TCP) and ``linebox`` (key=value lines from a retrofit sensor box). Options
are checked when the driver is built; a bad one is a ``ConfigError`` naming
``options.<key>``. Every dialect fails with ``DriverError`` when its line goes
quiet or away, and the machine's task (``pipeline.run_machine``) reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from edge_agent.drivers import Batch, Driver, Reading
from edge_agent.drivers.serial import haas_q, linebox
from edge_agent.drivers.serial.grbl_driver import GrblDriver
from edge_agent.drivers.serial.link import LineSplitter, SerialLink
from edge_agent.drivers.serial.options import GrblOptions, HaasOptions, LineboxOptions, parse_options
from edge_agent.errors import DriverError
from edge_agent.profiles import Profile

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build(*, machine_id: str, options: dict[str, Any], profile: Profile | None) -> Driver:
    """The driver for ``options["dialect"]``; raises ``ConfigError`` naming the bad option."""
    parsed = parse_options(machine_id, options)
    if isinstance(parsed, GrblOptions):
        return GrblDriver(machine_id=machine_id, options=parsed)
    if isinstance(parsed, HaasOptions):
        return HaasDriver(machine_id=machine_id, options=parsed)
    return LineboxDriver(machine_id=machine_id, options=parsed)


class HaasDriver:
    """Polls the Q commands in turn; one batch per round, so a status and a counter step arrive together."""

    def __init__(self, *, machine_id: str, options: HaasOptions, clock: Clock = utc_now) -> None:
        self.machine_id = machine_id
        self.options = options
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self._commands = (*options.commands, *(f"Q600 {var}" for var in options.macros))
        self._last_rx = 0.0
        self.last_heard: datetime | None = None  # see edge_agent.drivers

    async def readings(self) -> AsyncIterator[Batch]:
        framing = self.options.resolved_framing
        self.last_heard = None
        async with SerialLink(self.options) as link:
            framer = haas_q.Framer(framing)
            self._last_rx = time.monotonic()
            while True:
                started = time.monotonic()
                batch: list[Reading] = []
                for command in self._commands:
                    batch += await self._ask(link, framer, command)
                self.counters["noise_bytes"] = framer.noise_bytes
                if batch:
                    yield batch
                await asyncio.sleep(max(0.0, self.options.poll_interval_s - (time.monotonic() - started)))

    async def _ask(self, link: SerialLink, framer: haas_q.Framer, command: str) -> list[Reading]:
        await link.write(haas_q.request(command, framer.framing))
        deadline = time.monotonic() + self.options.reply_timeout_s
        while (left := deadline - time.monotonic()) > 0:
            data = await link.read(left)
            if data:
                self._last_rx, self.last_heard = time.monotonic(), self.clock()
            elif time.monotonic() - self._last_rx > self.options.read_timeout_s:
                raise DriverError(f"Haas on {self.options.describe()} silent for {self.options.read_timeout_s:.0f} s")
            for frame in framer.feed(data):
                result = self._answer(command, frame)
                if result is not None:
                    return result
        self.counters["timeouts"] += 1
        logger.debug("machine %s: no reply to %s", self.machine_id, command)
        return []

    def _answer(self, command: str, frame: str) -> list[Reading] | None:
        """Readings if ``frame`` answers ``command`` ([] for a refusal), None for another client's reply."""
        try:
            reply = haas_q.parse_reply(frame)
        except haas_q.HaasReplyError as err:
            # Replies carry no request id: a refusal is taken as the answer to the command in flight.
            self.counters["refused"] += 1
            logger.debug("machine %s: %s: %s", self.machine_id, command, err)
            return []
        if not haas_q.answers(command, reply):
            self.counters["foreign"] += 1
            return None
        try:
            return haas_q.readings(command, reply, self.clock())
        except haas_q.HaasReplyError as err:
            self.counters["malformed"] += 1
            logger.debug("machine %s: %s", self.machine_id, err)
            return []


class LineboxDriver:
    """One batch per valid line from the box; noise is counted and skipped."""

    def __init__(self, *, machine_id: str, options: LineboxOptions, clock: Clock = utc_now) -> None:
        self.machine_id = machine_id
        self.options = options
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.last_heard: datetime | None = None  # see edge_agent.drivers

    async def readings(self) -> AsyncIterator[Batch]:
        self.last_heard = None
        decoder = linebox.LineboxReadings(on_a=self.options.spindle_on_a, off_a=self.options.spindle_off_a)
        splitter = LineSplitter(max_line=linebox.MAX_LINE)
        async with SerialLink(self.options) as link:
            last_rx = time.monotonic()
            while True:
                data = await link.read(0.5)
                if data:
                    last_rx, self.last_heard = time.monotonic(), self.clock()
                elif time.monotonic() - last_rx > self.options.read_timeout_s:
                    raise DriverError(
                        f"line box on {self.options.describe()} silent for {self.options.read_timeout_s} s"
                    )
                for line in splitter.feed(data):
                    try:
                        pairs = linebox.parse_line(line)
                    except linebox.LineboxParseError as err:
                        self.counters["noise_lines"] += 1
                        logger.debug("machine %s: ignored %s", self.machine_id, err)
                        continue
                    batch = decoder.readings(pairs, self.clock())
                    if batch:
                        yield batch
                self.counters["dropped_lines"] = splitter.dropped
